package notebook

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
)

func TestJupyterToSource(t *testing.T) {
	tests := []struct {
		name     string
		ipynb    string
		lang     kiln.Language
		want     string
		wantLang kiln.Language
	}{
		{"CodeAndMarkdown",
			`{"cells":[{"cell_type":"code","source":["a = 1\n","b = 2\n"]},{"cell_type":"markdown","source":"# T\n\ntext"}]}`, "",
			"# Databricks notebook source\na = 1\nb = 2\n\n# COMMAND ----------\n\n# MAGIC %md\n# MAGIC # T\n# MAGIC\n# MAGIC text\n", kiln.LanguagePython},
		{"MagicCodeCell",
			`{"cells":[{"cell_type":"code","source":"%sql\nSELECT 1"}]}`, "",
			"# Databricks notebook source\n# MAGIC %sql\n# MAGIC SELECT 1\n", kiln.LanguagePython},
		{"RawCellIsMarkdown",
			`{"cells":[{"cell_type":"raw","source":"raw"}]}`, "",
			"# Databricks notebook source\n# MAGIC %md\n# MAGIC raw\n", kiln.LanguagePython},
		{"EmptyMarkdown",
			`{"cells":[{"cell_type":"markdown","source":[]}]}`, "",
			"# Databricks notebook source\n# MAGIC %md\n", kiln.LanguagePython},
		{"LanguageFromMetadata",
			`{"cells":[{"cell_type":"code","source":"SELECT 1"},{"cell_type":"markdown","source":"m"}],"metadata":{"language_info":{"name":"sql"}}}`, "",
			"-- Databricks notebook source\nSELECT 1\n\n-- COMMAND ----------\n\n-- MAGIC %md\n-- MAGIC m\n", kiln.LanguageSQL},
		{"ExplicitLanguageWins",
			`{"cells":[{"cell_type":"code","source":"1"}],"metadata":{"language_info":{"name":"sql"}}}`, kiln.LanguagePython,
			"# Databricks notebook source\n1\n", kiln.LanguagePython},
		{"CRLFAndBlankEdges",
			`{"cells":[{"cell_type":"code","source":"\r\n\r\nx = 1\r\ny = 2\r\n\r\n"}]}`, "",
			"# Databricks notebook source\nx = 1\ny = 2\n", kiln.LanguagePython},
		{"CellLookingLikeMagicIsEscaped",
			`{"cells":[{"cell_type":"code","source":"# MAGIC not a magic"}]}`, "",
			"# Databricks notebook source\n# MAGIC # MAGIC not a magic\n", kiln.LanguagePython},
		{"CellWithSeparatorIsEscaped",
			`{"cells":[{"cell_type":"code","source":"a\n# COMMAND ----------\nb"}]}`, "",
			"# Databricks notebook source\n# MAGIC a\n# MAGIC # COMMAND ----------\n# MAGIC b\n", kiln.LanguagePython},
		{"NoCells", `{"cells":[]}`, "", "# Databricks notebook source\n\n", kiln.LanguagePython},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, lang, err := JupyterToSource([]byte(tt.ipynb), tt.lang)
			if err != nil || string(got) != tt.want || lang != tt.wantLang {
				t.Fatalf("got %q, %s, %v\nwant %q, %s", got, lang, err, tt.want, tt.wantLang)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"cells": 3}`, `{"cells":[{"cell_type":"code","source":7}]}`, `print(1)`} {
		if _, _, err := JupyterToSource([]byte(bad), ""); !kiln.IsCode(err, kiln.EInvalid) {
			t.Errorf("JupyterToSource(%q): got %v, want EInvalid", bad, err)
		}
	}
}

func TestSourceToJupyter(t *testing.T) {
	src := "# Databricks notebook source\nx = 1\n\n# COMMAND ----------\n\n# MAGIC %md Title\n# MAGIC body\n\n# COMMAND ----------\n# MAGIC %sql\n# MAGIC SELECT 1\n"
	var nb struct {
		Cells []struct {
			CellType       string           `json:"cell_type"`
			Source         []string         `json:"source"`
			ExecutionCount *json.RawMessage `json:"execution_count"`
			Outputs        []any            `json:"outputs"`
		} `json:"cells"`
		Metadata struct {
			LanguageInfo struct{ Name string } `json:"language_info"`
		} `json:"metadata"`
		Nbformat int `json:"nbformat"`
	}
	out := SourceToJupyter([]byte(src), kiln.LanguagePython)
	if err := json.Unmarshal(out, &nb); err != nil {
		t.Fatal(err)
	}
	type cell struct{ typ, text string }
	var got []cell
	for _, c := range nb.Cells {
		got = append(got, cell{c.CellType, strings.Join(c.Source, "")})
	}
	want := []cell{{"code", "x = 1"}, {"markdown", "Title\nbody"}, {"code", "%sql\nSELECT 1"}}
	if len(got) != len(want) || nb.Nbformat != 4 || nb.Metadata.LanguageInfo.Name != "python" {
		t.Fatalf("got %+v (%s)", got, out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cell %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// nbformat: code cells carry execution_count null and outputs;
	// markdown cells neither.
	if !bytes.Contains(out, []byte(`"execution_count": null`)) || nb.Cells[1].ExecutionCount != nil {
		t.Errorf("execution_count: %s", out)
	}
}

// FuzzJupyterRoundTrip converts arbitrary .ipynb input to SOURCE and back:
// an exported notebook must be a fixed point of import then export, and
// nothing may panic.
func FuzzJupyterRoundTrip(f *testing.F) {
	for _, s := range []string{
		`{"cells":[{"cell_type":"code","source":["a = 1\n","b"]},{"cell_type":"markdown","source":"# T"}]}`,
		`{"cells":[{"cell_type":"code","source":"%sql\nSELECT 1"}],"metadata":{"language_info":{"name":"sql"}}}`,
		`{"cells":[{"cell_type":"code","source":"# MAGIC # MAGIC x\n# COMMAND ----------"}]}`,
		`{"cells":[{"cell_type":"markdown","source":"%md x\n\n\n"},{"cell_type":"raw","source":null}]}`,
		`{"cells":[{"cell_type":"code","source":"\r\n x\r"}],"metadata":{"kernelspec":{"language":"scala"}}}`,
		`{"cells":[]}`, `{}`, `[`, `{"cells":[{"source":["\u0000","\ud800"]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		src, lang, err := JupyterToSource(b, "")
		if err != nil {
			if !kiln.IsCode(err, kiln.EInvalid) {
				t.Fatalf("JupyterToSource: %v, want EInvalid", err)
			}
			return
		}
		if HeaderLanguage(src, "") == "" && lang != kiln.LanguageR {
			t.Fatalf("converted notebook lacks its header: %q", src)
		}
		j1 := SourceToJupyter(src, lang)
		if !json.Valid(j1) {
			t.Fatalf("SourceToJupyter produced invalid JSON: %s", j1)
		}
		src2, lang2, err := JupyterToSource(j1, lang)
		if err != nil || lang2 != lang {
			t.Fatalf("reimporting an export: %v (%s)", err, lang2)
		}
		if j2 := SourceToJupyter(src2, lang); !bytes.Equal(j1, j2) {
			t.Fatalf("export is not a fixed point:\n%s\n%s", j1, j2)
		}
	})
}

// FuzzSourceRoundTrip starts from arbitrary SOURCE text.
func FuzzSourceRoundTrip(f *testing.F) {
	for _, s := range []string{
		"# Databricks notebook source\nprint(1)\n\n# COMMAND ----------\n\n# MAGIC %md\n# MAGIC x\n",
		"print(1)", "", "# COMMAND ----------", "# MAGIC", "# MAGIC %md", "# MAGIC %md-sandbox\n# MAGIC x", "\r\n\r\n",
	} {
		f.Add(s, uint8(0))
	}
	langs := []kiln.Language{kiln.LanguagePython, kiln.LanguageSQL, kiln.LanguageScala, kiln.LanguageR}
	f.Fuzz(func(t *testing.T, s string, l uint8) {
		lang := langs[int(l)%len(langs)]
		j1 := SourceToJupyter([]byte(s), lang)
		src, _, err := JupyterToSource(j1, lang)
		if err != nil {
			t.Fatalf("importing an export: %v", err)
		}
		if j2 := SourceToJupyter(src, lang); !bytes.Equal(j1, j2) {
			t.Fatalf("export is not a fixed point:\n%s\n%s", j1, j2)
		}
	})
}
