package runner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln"
)

func TestNotebookCells(t *testing.T) {
	lib := "# Databricks notebook source\nHELPER = 1\n"
	loop := "# Databricks notebook source\n# MAGIC %run ./loop\n"
	nbs := map[string]string{"/Shared/lib": lib, "/Shared/loop": loop}
	load := func(main string) loadNotebook {
		return func(p string) (kiln.Language, []byte, error) {
			switch p {
			case "/Shared/main":
				return kiln.LanguagePython, []byte(main), nil
			case "/Shared/scala":
				return kiln.LanguageScala, []byte("// Databricks notebook source\n"), nil
			}
			if src, ok := nbs[p]; ok {
				return kiln.LanguagePython, []byte(src), nil
			}
			return "", nil, kiln.Errorf(kiln.EInvalid, "Notebook %s does not exist.", p)
		}
	}
	for _, c := range []struct {
		name, src string
		want      []string // notebook:index:source, shell cells "sh:" before the source
		err       string
	}{
		{"PlainCells", "# Databricks notebook source\nx = 1\n\n# COMMAND ----------\n\nprint(x)\n",
			[]string{"/Shared/main:1:x = 1\n", "/Shared/main:2:print(x)\n"}, ""},
		{"NoHeader", "print(1)\n", []string{"/Shared/main:1:print(1)\n"}, ""},
		{"CRLF", "# Databricks notebook source\r\nx = 1\r\n# COMMAND ----------\r\ny = 2\r\n",
			[]string{"/Shared/main:1:x = 1\n", "/Shared/main:2:y = 2\n"}, ""},
		{"MarkdownSkipped", "# Databricks notebook source\n# MAGIC %md\n# MAGIC # Title\n\n# COMMAND ----------\n\nx = 1\n",
			[]string{"/Shared/main:2:x = 1\n"}, ""},
		{"TitlesDropped", "# Databricks notebook source\n# DBTITLE 1,Load\nx = 1\n",
			[]string{"/Shared/main:1:x = 1\n"}, ""},
		{"PythonMagicRuns", "# Databricks notebook source\n# MAGIC %python\n# MAGIC x = 1\n# MAGIC print(x)\n",
			[]string{"/Shared/main:1:x = 1\nprint(x)\n"}, ""},
		{"RunInlines", "# Databricks notebook source\n# MAGIC %run ./lib\n\n# COMMAND ----------\n\nprint(HELPER)\n",
			[]string{"/Shared/lib:1:HELPER = 1\n", "/Shared/main:2:print(HELPER)\n"}, ""},
		{"RunAbsolute", "# MAGIC %run /Shared/lib\n", []string{"/Shared/lib:1:HELPER = 1\n"}, ""},
		{"RunMissing", "# MAGIC %run ./nope\n", nil, "Notebook /Shared/nope does not exist."},
		{"RunWithArguments", "# MAGIC %run ./lib $x=1\n", nil, "without arguments"},
		{"RunCycle", "# MAGIC %run ./loop\n", nil, "runs itself"},
		{"RunScala", "# MAGIC %run ./scala\n", nil, "is a SCALA notebook"},
		{"ScalaCell", "# Databricks notebook source\nx = 1\n# COMMAND ----------\n# MAGIC %scala\n# MAGIC val x = 1\n", nil,
			"Cell 2 of notebook /Shared/main is a %scala cell, which kiln cannot run"},
		{"SQLCell", "# MAGIC %sql\n# MAGIC SELECT 1\n", nil, "is a %sql cell"},
		{"ShellCellRuns", "# Databricks notebook source\n# MAGIC %sh\n# MAGIC ls -l\n# MAGIC echo done\n\n# COMMAND ----------\n\nx = 1\n",
			[]string{"/Shared/main:1:sh:ls -l\necho done\n", "/Shared/main:2:x = 1\n"}, ""},
		{"ShellCommandOnTheMagicLine", "# MAGIC %sh echo one\n", []string{"/Shared/main:1:sh:echo one\n"}, ""},
		{"PipCell", "# MAGIC %pip install requests\n", nil, "is a %pip cell"},
		{"TitledMarkdownSkipped", "# Databricks notebook source\n# DBTITLE 0,Intro\n# MAGIC %md\n# MAGIC hi\n\n# COMMAND ----------\n\nx = 1\n",
			[]string{"/Shared/main:2:x = 1\n"}, ""},
		{"MagicEscapedCodeRuns", "# Databricks notebook source\n# MAGIC a = 1\n# MAGIC # COMMAND ----------\n# MAGIC print(a)\n",
			[]string{"/Shared/main:1:a = 1\n# COMMAND ----------\nprint(a)\n"}, ""},
		{"MagicWithoutMAGICLines", "# Databricks notebook source\n%md hi\n# COMMAND ----------\n%sql\nSELECT 1\n", nil, "Cell 2 of notebook /Shared/main is a %sql cell"},
		{"EmptyCellsDropped", "# Databricks notebook source\n\n# COMMAND ----------\n\n# COMMAND ----------\nx = 1\n",
			[]string{"/Shared/main:1:x = 1\n"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cells, err := notebookCells("/Shared/main", load(c.src))
			if c.err != "" {
				if err == nil || !strings.Contains(kiln.ErrorMessage(err), c.err) {
					t.Fatalf("got error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, cl := range cells {
				src := cl.Source
				if cl.Kind == "shell" {
					src = "sh:" + src
				}
				got = append(got, fmt.Sprintf("%s:%d:%s", cl.Notebook, cl.Index, src))
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestLogCaptureKeepsHeadAndTail(t *testing.T) {
	for _, c := range []struct {
		name      string
		writes    []string
		want      string
		truncated bool
	}{
		{"Small", []string{"abc", "def"}, "abcdef", false},
		{"FitsExactly", []string{"0123456789"}, "0123456789", false},
		{"OneBigWrite", []string{"0123456789ABCDEFGHIJ"}, "0123\n[kiln: 10 bytes of output omitted]\nEFGHIJ", true},
		{"ManySmallWrites", []string{"01", "23", "45", "67", "89", "AB", "CD", "EF", "GH", "IJ"},
			"0123\n[kiln: 10 bytes of output omitted]\nEFGHIJ", true},
		{"WrapAround", []string{"0123", "abcdefg", "hij", "klmn"}, "0123\n[kiln: 8 bytes of output omitted]\nijklmn", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			lc := newLogCapture(4, 6, nil, 0)
			for _, w := range c.writes {
				lc.Write([]byte(w))
			}
			got, truncated := lc.Text()
			if got != c.want || truncated != c.truncated {
				t.Errorf("got %q (%v), want %q (%v)", got, truncated, c.want, c.truncated)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	got := cleanText("pw=hunter22 \x00 \xff ab", []string{"hunter22", "ab"})
	if want := "pw=[REDACTED] \uFFFD \uFFFD ab"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSubstitute(t *testing.T) {
	refs := map[string]string{"job.run_id": "7", "task.name": "etl"}
	for in, want := range map[string]string{
		"{{job.run_id}}":                        "7",
		"run {{ job.run_id }} of {{task.name}}": "run 7 of etl",
		"{{job.unknown}}":                       "{{job.unknown}}",
		"plain":                                 "plain",
	} {
		if got := substitute(in, refs); got != want {
			t.Errorf("substitute(%q) = %q, want %q", in, got, want)
		}
	}
}
