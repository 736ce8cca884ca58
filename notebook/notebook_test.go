package notebook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kiln-dev/kiln"
)

// jupyterSummary describes the cells of a Jupyter export, one string a
// cell: "code:text", "markdown:text", with "[1,title]" after the type
// for a titled cell.
func jupyterSummary(t *testing.T, j []byte) []string {
	t.Helper()
	var nb struct {
		Cells []struct {
			CellType string              `json:"cell_type"`
			Source   []string            `json:"source"`
			Metadata map[string]struct { // databricksCell
				Title     string `json:"title"`
				ShowTitle bool   `json:"showTitle"`
			} `json:"metadata"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(j, &nb); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, j)
	}
	var out []string
	for _, c := range nb.Cells {
		s := c.CellType
		if m, ok := c.Metadata[databricksCell]; ok {
			flag := 0
			if m.ShowTitle {
				flag = 1
			}
			s += fmt.Sprintf("[%d,%s]", flag, m.Title)
		}
		out = append(out, s+":"+strings.Join(c.Source, ""))
	}
	return out
}

// TestFormat reads SOURCE notebooks with every quirk of the format: the
// cells Split returns, their magic commands, the Jupyter export, and that
// the export imported and exported again is the same.
func TestFormat(t *testing.T) {
	const py = "# Databricks notebook source\n"
	type magic struct{ cmd, arg, body string }
	tests := []struct {
		name  string
		lang  kiln.Language // Python when ""
		src   string
		want  []Cell
		magic map[int]magic // Magic of the cells at these indexes; every other cell has none
		nb    []string      // jupyterSummary of the export
	}{
		{name: "HeaderAndCells", src: py + "x = 1\n\n# COMMAND ----------\n\nprint(x)\n",
			want: []Cell{{Text: "x = 1"}, {Text: "print(x)"}}, nb: []string{"code:x = 1", "code:print(x)"}},
		{name: "NoHeader", src: "print(1)\n",
			want: []Cell{{Text: "print(1)"}}, nb: []string{"code:print(1)"}},
		{name: "HeaderNotFirstIsContent", src: "x\n" + py,
			want: []Cell{{Text: "x\n# Databricks notebook source"}}},
		{name: "HeaderWithTrailingBlanksAndBOM", src: "\ufeff# Databricks notebook source \t\r\nx\n",
			want: []Cell{{Text: "x"}}},
		{name: "CRLF", src: "# Databricks notebook source\r\nx = 1\r\n# COMMAND ----------\r\ny = 2\r\n",
			want: []Cell{{Text: "x = 1"}, {Text: "y = 2"}}},
		{name: "StrayCarriageReturns", src: "a\r\r\nb \r\nc\rd\r",
			want: []Cell{{Text: "a\nb \nc\rd"}}},
		{name: "TrailingWhitespaceInCodeKept", src: py + "\n\na = 1  \n\n\nb\t\n\n",
			want: []Cell{{Text: "a = 1  \n\n\nb\t"}}},
		{name: "SeparatorWithTrailingBlanks", src: py + "a\n# COMMAND ---------- \t\nb",
			want: []Cell{{Text: "a"}, {Text: "b"}}},
		{name: "IndentedSeparatorIsContent", src: py + "def f():\n    # COMMAND ----------\n    pass\n",
			want: []Cell{{Text: "def f():\n    # COMMAND ----------\n    pass"}}},
		{name: "EmptyCellsKept", src: py + "\n# COMMAND ----------\n\n# COMMAND ----------\nx = 1\n",
			want: []Cell{{}, {}, {Text: "x = 1"}}, nb: []string{"code:", "code:", "code:x = 1"}},
		{name: "EmptySource", src: "", want: []Cell{{}}, nb: []string{"code:"}},
		{name: "InvalidUTF8", src: "s = 'a\xffb'", want: []Cell{{Text: "s = 'a\uFFFDb'"}}},
		{name: "MarkdownCell", src: py + "# MAGIC %md\n# MAGIC # Title\n# MAGIC\n# MAGIC text\n",
			want:  []Cell{{Text: "%md\n# Title\n\ntext"}},
			magic: map[int]magic{0: {"%md", "", "# Title\n\ntext"}}, nb: []string{"markdown:# Title\n\ntext"}},
		{name: "MarkdownOnTheCommandLine", src: py + "# MAGIC %md Title\n# MAGIC body\n",
			want:  []Cell{{Text: "%md Title\nbody"}},
			magic: map[int]magic{0: {"%md", "Title", "body"}}, nb: []string{"markdown:Title\nbody"}},
		{name: "MagicBareAndWithTrailingSpace", src: py + "# MAGIC %md \n# MAGIC \n# MAGIC   indented\n# MAGIC\n",
			want:  []Cell{{Text: "%md \n\n  indented"}},
			magic: map[int]magic{0: {"%md", "", "\n  indented"}}, nb: []string{"markdown:  indented"}},
		{name: "MagicWithoutSpaceIsAComment", src: py + "# MAGICAL = 1\n# MAGIC%md",
			want: []Cell{{Text: "# MAGICAL = 1\n# MAGIC%md"}}},
		{name: "MagicOnlyFromTheFirstLine", src: py + "x = 1\n# MAGIC %md",
			want: []Cell{{Text: "x = 1\n# MAGIC %md"}}},
		{name: "MagicCellWithPlainLines", src: py + "# MAGIC %sql\n# MAGIC SELECT 1\n\nFROM t",
			want:  []Cell{{Text: "%sql\nSELECT 1\n\nFROM t"}},
			magic: map[int]magic{0: {"%sql", "", "SELECT 1\n\nFROM t"}}, nb: []string{"code:%sql\nSELECT 1\n\nFROM t"}},
		{name: "MagicEscapedCode", src: py + "# MAGIC a\n# MAGIC # COMMAND ----------\n# MAGIC # MAGIC b\n",
			want: []Cell{{Text: "a\n# COMMAND ----------\n# MAGIC b"}}, nb: []string{"code:a\n# COMMAND ----------\n# MAGIC b"}},
		{name: "MagicWithoutMAGICLines", src: py + "%sql\nSELECT 1",
			want:  []Cell{{Text: "%sql\nSELECT 1"}},
			magic: map[int]magic{0: {"%sql", "", "SELECT 1"}}, nb: []string{"code:%sql\nSELECT 1"}},
		{name: "RunAndPythonCells", src: py + "# MAGIC %run ./lib\n\n# COMMAND ----------\n\n# MAGIC %python\tx = 1\n# MAGIC print(x)\n\n# COMMAND ----------\n\n# MAGIC %md-sandbox\n# MAGIC <b>x</b>",
			want:  []Cell{{Text: "%run ./lib"}, {Text: "%python\tx = 1\nprint(x)"}, {Text: "%md-sandbox\n<b>x</b>"}},
			magic: map[int]magic{0: {"%run", "./lib", ""}, 1: {"%python", "x = 1", "print(x)"}, 2: {"%md-sandbox", "", "<b>x</b>"}},
			nb:    []string{"code:%run ./lib", "code:%python\tx = 1\nprint(x)", "code:%md-sandbox\n<b>x</b>"}},
		{name: "Title", src: py + "# DBTITLE 1,Load data \t\nx = 1\n",
			want: []Cell{{Title: "Load data", ShowTitle: true, Text: "x = 1"}}, nb: []string{"code[1,Load data]:x = 1"}},
		{name: "HiddenTitleOnAMagicCell", src: py + "x\n\n# COMMAND ----------\n\n# DBTITLE 0,Intro, part 1\n# MAGIC %md\n# MAGIC hi\n",
			want:  []Cell{{Text: "x"}, {Title: "Intro, part 1", Text: "%md\nhi"}},
			magic: map[int]magic{1: {"%md", "", "hi"}}, nb: []string{"code:x", "markdown[0,Intro, part 1]:hi"}},
		{name: "TitleWithoutFlag", src: py + "# DBTITLE Load\nx",
			want: []Cell{{Title: "Load", Text: "x"}}, nb: []string{"code[0,Load]:x"}},
		{name: "EmptyTitleAndTitleOnly", src: py + "# DBTITLE 1,\nx\n# COMMAND ----------\n# DBTITLE 1,Nothing here",
			want: []Cell{{Text: "x"}, {Title: "Nothing here", ShowTitle: true}}, nb: []string{"code:x", "code[1,Nothing here]:"}},
		{name: "TitleOnlyOnTheFirstLine", src: py + "x = 1\n# DBTITLE 1,t\n",
			want: []Cell{{Text: "x = 1\n# DBTITLE 1,t"}}},
		{name: "MagicEscapedTitle", src: py + "# MAGIC # DBTITLE 1,t\n# MAGIC x",
			want: []Cell{{Text: "# DBTITLE 1,t\nx"}}, nb: []string{"code:# DBTITLE 1,t\nx"}},
		{name: "TitleWithoutSpaceIsAComment", src: py + "# DBTITLEx\nx",
			want: []Cell{{Text: "# DBTITLEx\nx"}}},
		{name: "SQL", lang: kiln.LanguageSQL,
			src:   "-- Databricks notebook source\nSELECT 1\n\n-- COMMAND ----------\n\n-- DBTITLE 1,Doc\n-- MAGIC %md\n-- MAGIC m\n",
			want:  []Cell{{Text: "SELECT 1"}, {Title: "Doc", ShowTitle: true, Text: "%md\nm"}},
			magic: map[int]magic{1: {"%md", "", "m"}}, nb: []string{"code:SELECT 1", "markdown[1,Doc]:m"}},
		{name: "SQLReadsNoPythonMarkers", lang: kiln.LanguageSQL, src: "# Databricks notebook source\n# MAGIC x\n# COMMAND ----------\n# DBTITLE 1,t",
			want: []Cell{{Text: "# Databricks notebook source\n# MAGIC x\n# COMMAND ----------\n# DBTITLE 1,t"}}},
		{name: "Scala", lang: kiln.LanguageScala,
			src:   "// Databricks notebook source\nval x = 1\n// COMMAND ----------\n// MAGIC %python\n// MAGIC print(1)\n",
			want:  []Cell{{Text: "val x = 1"}, {Text: "%python\nprint(1)"}},
			magic: map[int]magic{1: {"%python", "", "print(1)"}}, nb: []string{"code:val x = 1", "code:%python\nprint(1)"}},
		{name: "R", lang: kiln.LanguageR,
			src:  "# Databricks notebook source\nx <- 1\n# COMMAND ----------\n# MAGIC %md\n# MAGIC r\n",
			want: []Cell{{Text: "x <- 1"}, {Text: "%md\nr"}}, magic: map[int]magic{1: {"%md", "", "r"}}, nb: []string{"code:x <- 1", "markdown:r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lang := tt.lang
			if lang == "" {
				lang = kiln.LanguagePython
			}
			got := Split([]byte(tt.src), lang)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Split:\ngot  %#v\nwant %#v", got, tt.want)
			}
			for i, c := range got {
				var m magic
				cmd, arg, body, ok := c.Magic()
				if ok {
					m = magic{cmd, arg, body}
				}
				if want, has := tt.magic[i]; ok != has || m != want {
					t.Errorf("cell %d Magic: got %+v (%v), want %+v (%v)", i, m, ok, want, has)
				}
			}
			j := SourceToJupyter([]byte(tt.src), lang)
			if tt.nb != nil {
				if s := jupyterSummary(t, j); !reflect.DeepEqual(s, tt.nb) {
					t.Errorf("SourceToJupyter:\ngot  %q\nwant %q", s, tt.nb)
				}
			}
			src, lang2, err := JupyterToSource(j, lang)
			if err != nil || lang2 != lang {
				t.Fatalf("JupyterToSource of the export: %v (%s)", err, lang2)
			}
			if j2 := SourceToJupyter(src, lang); !bytes.Equal(j, j2) {
				t.Errorf("export is not a fixed point:\n%s\n%s", j, j2)
			}
			if back := Split(join(got, lang), lang); !reflect.DeepEqual(back, got) {
				t.Errorf("Split(join(cells)):\ngot  %#v\nwant %#v", back, got)
			}
		})
	}
}

func TestHeaderLanguage(t *testing.T) {
	for _, lang := range fuzzLangs {
		if ext := "." + strings.ToUpper(FileType(lang)); LanguageOfExt(ext) != lang {
			t.Errorf("LanguageOfExt(%q) = %q, want %s", ext, LanguageOfExt(ext), lang)
		}
	}
	if FileType("JAVA") != "py" || LanguageOfExt(".ipynb") != "" || LanguageOfExt("") != "" {
		t.Errorf("unknown language or extension: %q, %q", FileType("JAVA"), LanguageOfExt(".ipynb"))
	}
	for _, c := range []struct {
		src, ext string
		want     kiln.Language
	}{
		{"# Databricks notebook source\nx", "", kiln.LanguagePython},
		{"# Databricks notebook source", ".R", kiln.LanguageR},
		{"\ufeff-- Databricks notebook source \r\n", ".py", kiln.LanguageSQL},
		{"// Databricks notebook source\t", "", kiln.LanguageScala},
		{"x\n# Databricks notebook source", ".py", ""},
		{"  # Databricks notebook source", "", ""},
		{"", "", ""},
	} {
		if got := HeaderLanguage([]byte(c.src), c.ext); got != c.want {
			t.Errorf("HeaderLanguage(%q, %q) = %q, want %q", c.src, c.ext, got, c.want)
		}
	}
	for _, c := range []struct {
		src  string
		lang kiln.Language
		want string
	}{
		{"x", kiln.LanguagePython, "# Databricks notebook source\nx"},
		{"\ufeffx", kiln.LanguageSQL, "-- Databricks notebook source\nx"},
		{"# Databricks notebook source \r\nx", kiln.LanguagePython, "# Databricks notebook source \r\nx"},
		{"# Databricks notebook source\nx", kiln.LanguageScala, "// Databricks notebook source\n# Databricks notebook source\nx"},
	} {
		if got := string(WithHeader([]byte(c.src), c.lang)); got != c.want {
			t.Errorf("WithHeader(%q, %s) = %q, want %q", c.src, c.lang, got, c.want)
		}
	}
}

var fuzzLangs = []kiln.Language{kiln.LanguagePython, kiln.LanguageSQL, kiln.LanguageScala, kiln.LanguageR}

// FuzzSplitCells reads arbitrary SOURCE text: Split must not panic, must
// return normalized cells, must read the same cells with the header
// added, and writing its cells must read them back unchanged.
func FuzzSplitCells(f *testing.F) {
	for _, s := range []string{
		"# Databricks notebook source\nx = 1\n\n# COMMAND ----------\n\n# MAGIC %md\n# MAGIC x\n",
		"# DBTITLE 1,t\n# MAGIC %sql\n# MAGIC SELECT 1\n\nFROM t", "# DBTITLE 0,\r\n", "# DBTITLE 1,a\rb \n",
		"\ufeff\r\n# COMMAND ---------- \r\n# MAGIC\n# MAGIC # MAGIC x", "%run ./x", "# MAGIC # DBTITLE 1,x", "# MAGIC %md \t", "a\xff\r\r",
		"-- MAGIC %md\n-- COMMAND ----------\n// DBTITLE 1,x",
	} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, l uint8) {
		lang := fuzzLangs[int(l)%len(fuzzLangs)]
		cells := Split([]byte(s), lang)
		if len(cells) == 0 {
			t.Fatalf("no cells")
		}
		for i, c := range cells {
			if c.Text != normalize(c.Text) || !utf8.ValidString(c.Text) || !utf8.ValidString(c.Title) ||
				c.Title != cleanTitle(c.Title) || (c.ShowTitle && c.Title == "") {
				t.Fatalf("cell %d is not normalized: %#v", i, c)
			}
			if cmd, arg, _, ok := c.Magic(); ok && (cmd == "" || strings.ContainsAny(cmd, " \t\n") || arg != strings.TrimSpace(arg)) {
				t.Fatalf("cell %d: Magic gave %q %q", i, cmd, arg)
			}
		}
		if again := Split(WithHeader([]byte(s), lang), lang); !reflect.DeepEqual(again, cells) {
			t.Fatalf("with the header:\ngot  %#v\nwant %#v", again, cells)
		}
		if back := Split(join(cells, lang), lang); !reflect.DeepEqual(back, cells) {
			t.Fatalf("Split(join(cells)):\ngot  %#v\nwant %#v", back, cells)
		}
	})
}
