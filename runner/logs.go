package runner

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// logCapture keeps a task's output within fixed bounds however much the
// task prints: the first headMax bytes and the last tailMax bytes in
// memory (what the store keeps), and the whole output in a file up to
// fileMax bytes (for operators; past the cap the file says so and stops
// growing). It counts everything it was given. Safe for concurrent use.
type logCapture struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte // ring buffer of tailMax bytes once full
	tailPos int    // next write position in tail when full
	tailMax int
	headMax int
	total   int64

	file     io.Writer
	fileMax  int64
	fileSize int64
	fileErr  error

	// Past max bytes in all, over is called once (the task is stopped).
	max  int64
	over func()
}

func newLogCapture(headMax, tailMax int, file io.Writer, fileMax int64) *logCapture {
	return &logCapture{headMax: headMax, tailMax: tailMax, head: make([]byte, 0, min(headMax, 64<<10)),
		file: file, fileMax: fileMax}
}

// Write never fails: a task must not die because its logs are full.
func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	c.total += int64(n)
	if c.over != nil && c.total > c.max {
		c.over()
		c.over = nil
	}
	c.toFile(p)
	if room := c.headMax - len(c.head); room > 0 {
		take := min(room, len(p))
		c.head = append(c.head, p[:take]...)
		p = p[take:]
	}
	c.toTail(p)
	return n, nil
}

func (c *logCapture) toTail(p []byte) {
	if c.tailMax <= 0 || len(p) == 0 {
		return
	}
	if len(p) >= c.tailMax {
		c.tail = append(c.tail[:0], p[len(p)-c.tailMax:]...)
		c.tailPos = 0
		return
	}
	if len(c.tail) < c.tailMax {
		room := c.tailMax - len(c.tail)
		take := min(room, len(p))
		c.tail = append(c.tail, p[:take]...)
		p = p[take:]
		if len(p) == 0 {
			return
		}
	}
	// Full: overwrite the oldest bytes, wrapping around.
	for len(p) > 0 {
		k := copy(c.tail[c.tailPos:], p)
		p = p[k:]
		c.tailPos = (c.tailPos + k) % c.tailMax
	}
}

func (c *logCapture) toFile(p []byte) {
	if c.file == nil || c.fileErr != nil || c.fileSize >= c.fileMax {
		return
	}
	if int64(len(p)) > c.fileMax-c.fileSize {
		p = p[:c.fileMax-c.fileSize]
	}
	k, err := c.file.Write(p)
	c.fileSize += int64(k)
	if err == nil && c.fileSize >= c.fileMax {
		_, err = fmt.Fprintf(c.file, "\n[kiln: log file capped at %d bytes; later output is not kept here]\n", c.fileMax)
	}
	c.fileErr = err
}

// limit calls over, once, when the task has written more than max bytes.
func (c *logCapture) limit(max int64, over func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max, c.over = max, over
}

// Total is how many bytes the task has written so far.
func (c *logCapture) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Text returns the kept output and whether some was left out: the head,
// a line saying how many bytes were dropped, and the tail.
func (c *logCapture) Text() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tail := c.tail
	if len(c.tail) == c.tailMax && c.tailPos > 0 {
		tail = append(append([]byte{}, c.tail[c.tailPos:]...), c.tail[:c.tailPos]...)
	}
	kept := int64(len(c.head) + len(tail))
	if kept >= c.total {
		return string(c.head) + string(tail), false
	}
	return fmt.Sprintf("%s\n[kiln: %d bytes of output omitted]\n%s", c.head, c.total-kept, tail), true
}

// cleanText makes s storable and renderable: valid UTF-8 without NUL
// (PostgreSQL text refuses both), secret values redacted as Databricks
// does in notebook output.
func cleanText(s string, secrets []string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	return string(redactBytes([]byte(s), secrets))
}

// minRedacted is the shortest secret value that is redacted: redacting
// "a" would shred the logs and reveal nothing.
const minRedacted = 4

// redactingWriter writes a task's output to its log file with every
// secret value the task was handed replaced, so that no value reaches the
// disk. Values are handed out before the task can print them, but a value
// may arrive split across writes: the last (longest value - 1) bytes are
// held back until more output or Flush shows they are not part of one.
type redactingWriter struct {
	mu      sync.Mutex
	w       io.Writer
	secrets *secretList
	pending []byte
}

func newRedactingWriter(w io.Writer, secrets *secretList) *redactingWriter {
	return &redactingWriter{w: w, secrets: secrets}
}

// Write redacts and writes what can no longer be the start of a secret.
func (r *redactingWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	vals := r.secrets.list()
	longest := 0
	for _, v := range vals {
		longest = max(longest, len(v))
	}
	buf := redactBytes(append(r.pending, p...), vals)
	keep := min(max(longest-1, 0), len(buf))
	r.pending = append(r.pending[:0:0], buf[len(buf)-keep:]...)
	if _, err := r.w.Write(buf[:len(buf)-keep]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what was held back.
func (r *redactingWriter) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	buf := redactBytes(r.pending, r.secrets.list())
	r.pending = nil
	_, err := r.w.Write(buf)
	return err
}

func redactBytes(b []byte, secrets []string) []byte {
	s := string(b)
	for _, v := range secrets {
		if len(v) >= minRedacted {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return []byte(s)
}
