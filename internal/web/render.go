package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/mxauth/mxauth/internal/model"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Branding is what the operator sets under `branding` in the config.
type Branding struct {
	ServiceName string
	PolicyURI   string
	TosURI      string
	Imprint     string
}

// Page is what every template receives.
type Page struct {
	Title       string
	ServiceName string
	ServerName  string
	BasePath    string
	AssetsPath  string
	CSRF        string
	Error       string
	User        *model.User
	Branding    Branding
	Data        any
}

// renderer holds one parsed template set per page, each with the layout.
type renderer struct {
	pages map[string]*template.Template
}

var templateFuncs = template.FuncMap{
	"date": func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
}

func newRenderer(extra fs.FS) (*renderer, error) {
	layout, err := fs.ReadFile(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	r := &renderer{pages: make(map[string]*template.Template)}
	add := func(fsys fs.FS, pattern string) error {
		names, err := fs.Glob(fsys, pattern)
		if err != nil {
			return err
		}
		for _, name := range names {
			base := name[len("templates/") : len(name)-len(".html")]
			if base == "layout" {
				continue
			}
			body, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			t, err := template.New(base).Funcs(templateFuncs).Parse(string(layout))
			if err != nil {
				return fmt.Errorf("web: parse layout: %w", err)
			}
			if _, err := t.Parse(string(body)); err != nil {
				return fmt.Errorf("web: parse %s: %w", name, err)
			}
			r.pages[base] = t
		}
		return nil
	}
	if err := add(templateFS, "templates/*.html"); err != nil {
		return nil, err
	}
	if extra != nil {
		if err := add(extra, "templates/*.html"); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// render executes page into a buffer first, so a template error never leaves
// a half-written response.
func (r *renderer) render(w http.ResponseWriter, status int, name string, p Page) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("web: no template %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if h.Get("Content-Security-Policy") == "" {
		// No form-action: Chrome applies it to every redirect after a form
		// post, and a login or consent post ends at the client's redirect
		// URI. Forms are protected by CSRF tokens instead.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'")
	}
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// StaticHandler serves the embedded stylesheet and images under /assets/.
func StaticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		// The embed directive guarantees the directory exists.
		panic(err)
	}
	fileServer := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fileServer.ServeHTTP(w, r)
	})
}
