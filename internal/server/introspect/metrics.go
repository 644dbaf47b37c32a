package introspect

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxauth/mxauth/internal/token"
	"github.com/mxauth/mxauth/internal/tokencache"
)

// numKinds is the number of kind labels: "invalid" and one per token kind.
const numKinds = 6

// kindIndex maps a token kind (0 for a malformed token) to its label index.
func kindIndex(k token.Kind) int {
	if !k.Valid() {
		return 0
	}
	return int(k)
}

// metrics are resolved once, so the hot path only increments counters.
type metrics struct {
	// requests[kind][active]
	requests [numKinds][2]prometheus.Counter
	hits     prometheus.Counter
	misses   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, cache *tokencache.Cache[*Answer]) (metrics, error) {
	var m metrics
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mxauth_introspection_requests_total",
		Help: "Answered introspection requests, by token kind and whether the token was active.",
	}, []string{"active", "kind"})
	for k := 0; k < numKinds; k++ {
		for a := 0; a < 2; a++ {
			m.requests[k][a] = requests.WithLabelValues(strconv.FormatBool(a == 1), kindLabel(token.Kind(k)))
		}
	}
	m.hits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mxauth_introspection_cache_hits_total",
		Help: "Access token introspections answered from the in-process cache.",
	})
	m.misses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mxauth_introspection_cache_misses_total",
		Help: "Access token introspections that had to read the database.",
	})
	if reg == nil {
		return m, nil
	}
	cols := []prometheus.Collector{requests, m.hits, m.misses}
	if cache != nil {
		cols = append(cols,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "mxauth_introspection_cache_entries",
				Help: "Answers held in the introspection cache.",
			}, func() float64 { return float64(cache.Len()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "mxauth_introspection_cache_enabled",
				Help: "1 while the introspection cache is in use (0 while invalidations from other instances cannot be heard).",
			}, func() float64 {
				if cache.Enabled() {
					return 1
				}
				return 0
			}))
	}
	for _, c := range cols {
		if err := reg.Register(c); err != nil {
			return metrics{}, fmt.Errorf("introspect: register metrics: %w", err)
		}
	}
	return m, nil
}
