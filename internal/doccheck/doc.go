// Package doccheck holds TestDocs, the test that keeps kiln's Go
// documented: it parses every package of the module (compat/ and testdata
// aside) and fails, naming file and line, for each package without a
// package doc comment ("Package x ..."; "Command x ..." for a main
// package) and each exported top-level name without a doc comment. The
// package has no API; importing it does nothing.
package doccheck
