// Package archtest holds repository-wide tests: the import rules of
// DESIGN.md ("server/* and web never import a concrete backend, config or
// app", pure packages stay pure, test helpers stay out of production code)
// and the presence of package documentation.
package archtest
