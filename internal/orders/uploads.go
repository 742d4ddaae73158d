package orders

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// Uploads keeps the order files uploaded through the console, each in a
// folder of its own under Dir (in the data folder) with its state: the
// file, who uploaded it, the mapping chosen, and the dry run's and the
// import's progress and reports. Files are streamed to disk, never held in
// memory, and removed after UploadKeep.
type Uploads struct {
	Dir      string
	MaxBytes int64 // 0: DefaultMaxBytes
	Clock    kith.Clock
}

// UploadKeep is how long an uploaded file and its reports are kept.
const UploadKeep = 7 * 24 * time.Hour

// Upload is one uploaded order file.
type Upload struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"` // the file's name on the uploader's computer
	Size   int64     `json:"size"`
	Format string    `json:"format"` // csv or xlsx
	By     string    `json:"by"`     // the user who uploaded it
	At     time.Time `json:"at"`
	Header []string  `json:"header"`
	// Mapping is the one chosen; nil until one is (a preset recognised
	// from the header, a saved mapping or the form's columns).
	Mapping *Mapping `json:"mapping,omitempty"`
	Shop    string   `json:"shop,omitempty"` // the shop's name for files without a shop column
}

// Run kinds of an upload.
const (
	RunDry    = "dry"
	RunImport = "import"
)

// Run states.
const (
	RunQueued  = "queued"
	RunRunning = "running"
	RunDone    = "done"
	RunFailed  = "failed"
)

// RunState is how far a dry run or an import of an upload is.
type RunState struct {
	Kind     string    `json:"kind"` // RunDry or RunImport
	State    string    `json:"state"`
	Error    string    `json:"error,omitempty"`
	Progress Progress  `json:"progress"`
	Expected int       `json:"expected"` // data rows the file has, when a dry run told; 0: unknown
	Queued   time.Time `json:"queued"`
	Finished time.Time `json:"finished,omitzero"`
	Report   *Report   `json:"report,omitempty"`
}

// Waiting reports whether the run has not ended.
func (r *RunState) Waiting() bool { return r != nil && (r.State == RunQueued || r.State == RunRunning) }

func (u *Uploads) maxBytes() int64 {
	if u.MaxBytes > 0 {
		return u.MaxBytes
	}
	return DefaultMaxBytes
}

// uploadExt are the file name endings an upload may have.
var uploadExt = map[string]bool{".csv": true, ".txt": true, ".tsv": true, ".xlsx": true}

// CheckName refuses a file whose name says it is no CSV or XLSX file,
// before its body is read.
func CheckName(name string) error {
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case uploadExt[ext]:
		return nil
	case ext == ".xls" || ext == ".et":
		return kith.Errorf(kith.EINVALID, "%s is an old Excel workbook (.xls); save it as .xlsx or .csv and upload that", truncate(name, 60))
	}
	return kith.Errorf(kith.EINVALID, "%s is not a CSV or XLSX file; export the orders as .csv or .xlsx", truncate(name, 60))
}

// Save streams r to a new upload's file and reads its header row. A file
// over the size limit, an empty one, or one that is no CSV or XLSX is
// refused with an EINVALID error and nothing kept.
func (u *Uploads) Save(ctx context.Context, r io.Reader, name, by string) (up *Upload, err error) {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	if err := CheckName(name); err != nil {
		return nil, err
	}
	u.prune()
	id := newUploadID()
	dir := filepath.Join(u.Dir, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("orders: upload folder: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	f, err := os.OpenFile(filepath.Join(dir, "file"), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("orders: upload file: %w", err)
	}
	defer f.Close()
	max := u.maxBytes()
	n, err := io.Copy(f, io.LimitReader(ctxReader{ctx, r}, max+1))
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, TooLarge(kith.Errorf(kith.EINVALID, "%s is more than the %s an import reads; split it (by month, say) and upload the parts", truncate(name, 60), humanBytes(max)))
	}
	if n == 0 {
		return nil, kith.Errorf(kith.EINVALID, "%s is empty", truncate(name, 60))
	}
	if err := checkContent(f, name); err != nil {
		return nil, err
	}
	header, format, err := ReadHeader(io.NewSectionReader(f, 0, n), n, max)
	if err != nil {
		return nil, err
	}
	up = &Upload{ID: id, Name: name, Size: n, Format: format, By: by, At: u.Clock.Now(), Header: header}
	return up, u.Put(up)
}

// checkContent refuses a binary file that is no XLSX (a PDF, an image, an
// old .xls renamed .csv).
func checkContent(f *os.File, name string) error {
	head := make([]byte, 8<<10)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return nil
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return nil // UTF-16 text holds zero bytes
	case bytes.IndexByte(head, 0) >= 0:
		return kith.Errorf(kith.EINVALID, "%s is not a CSV or XLSX file (its content is binary); export the orders as .csv or .xlsx", truncate(name, 60))
	}
	return nil
}

// ErrTooLarge is in the chain of the error of a file over the size limit,
// for answers that say so in their status (413).
var ErrTooLarge = errors.New("orders: the file is too large")

// TooLarge marks e as the error of a file over the size limit.
func TooLarge(e *kith.Error) error { return tooLarge{e} }

type tooLarge struct{ e *kith.Error }

func (t tooLarge) Error() string   { return t.e.Error() }
func (t tooLarge) Unwrap() []error { return []error{t.e, ErrTooLarge} }

// ctxReader stops a copy when the request ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func newUploadID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// dir returns an upload's folder, refusing ids that are not ours.
func (u *Uploads) dir(id string) (string, error) {
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", kith.Errorf(kith.ENOTFOUND, "there is no uploaded file %q", truncate(id, 40))
	}
	return filepath.Join(u.Dir, id), nil
}

// Get returns an upload, or an ENOTFOUND error.
func (u *Uploads) Get(id string) (*Upload, error) {
	dir, err := u.dir(id)
	if err != nil {
		return nil, err
	}
	var up Upload
	if err := readJSON(filepath.Join(dir, "upload.json"), &up); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, kith.Errorf(kith.ENOTFOUND, "there is no uploaded file %s (files are kept for 7 days)", id)
		}
		return nil, err
	}
	return &up, nil
}

// Put writes an upload's description (its mapping, say).
func (u *Uploads) Put(up *Upload) error {
	dir, err := u.dir(up.ID)
	if err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "upload.json"), up)
}

// Open opens an upload's file.
func (u *Uploads) Open(id string) (*os.File, int64, error) {
	dir, err := u.dir(id)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(filepath.Join(dir, "file"))
	if err != nil {
		return nil, 0, kith.Errorf(kith.ENOTFOUND, "the uploaded file %s is gone (files are kept for 7 days); upload it again", id)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// State returns the state of an upload's dry run or import, nil when it
// never ran.
func (u *Uploads) State(id, kind string) (*RunState, error) {
	dir, err := u.dir(id)
	if err != nil {
		return nil, err
	}
	var st RunState
	if err := readJSON(filepath.Join(dir, kind+".json"), &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return &st, nil
}

// SetState writes the state of a run.
func (u *Uploads) SetState(id string, st *RunState) error {
	dir, err := u.dir(id)
	if err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, st.Kind+".json"), st)
}

// ClearState forgets a run (a dry run after the mapping changed).
func (u *Uploads) ClearState(id, kind string) error {
	dir, err := u.dir(id)
	if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, kind+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Recent returns up to n uploads, the newest first.
func (u *Uploads) Recent(n int) ([]*Upload, error) {
	entries, err := os.ReadDir(u.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("orders: list uploads: %w", err)
	}
	var out []*Upload
	for _, e := range entries {
		if _, err := u.dir(e.Name()); err != nil || !e.IsDir() {
			continue
		}
		up, err := u.Get(e.Name())
		if err != nil {
			continue // being written or removed
		}
		out = append(out, up)
	}
	slices.SortFunc(out, func(a, b *Upload) int { return cmp.Or(b.At.Compare(a.At), strings.Compare(a.ID, b.ID)) })
	return out[:min(n, len(out))], nil
}

// prune removes uploads older than UploadKeep.
func (u *Uploads) prune() {
	entries, err := os.ReadDir(u.Dir)
	if err != nil {
		return
	}
	cut := u.Clock.Now().Add(-UploadKeep)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && e.IsDir() && info.ModTime().Before(cut) {
			if _, err := u.dir(e.Name()); err == nil {
				os.RemoveAll(filepath.Join(u.Dir, e.Name()))
			}
		}
	}
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("orders: %s: %w", filepath.Base(path), err)
	}
	return nil
}

// writeJSON replaces a file at once (write, then rename), so a reader
// never sees half of it.
func writeJSON(path string, v any) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("orders: write %s: %w", filepath.Base(path), err)
	}
	w := bufio.NewWriter(tmp)
	err = json.NewEncoder(w).Encode(v)
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("orders: write %s: %w", filepath.Base(path), err)
	}
	return nil
}
