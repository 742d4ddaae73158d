package web

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/jobs"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
)

// importView is the page of one uploaded file: its mapping, the dry run
// and the import.
type importView struct {
	Upload     *orders.Upload
	Size       string // the file's size for people
	Mapped     bool   // a mapping is chosen
	Custom     bool   // … and it is not a preset
	Platform   string // the mapping's platform (the shop key's prefix)
	SaveAs     string
	Fields     []importField
	Problem    *problem
	Dry, Run   *runView
	CanImport  bool // a finished dry run with the current mapping and no run waiting
	BusyReason string
}

// importField is one row of the mapping form.
type importField struct {
	Field    string
	Required bool
	Chosen   string // the header column it reads, "" for none
}

// runView is a dry run's or an import's progress and report.
type runView struct {
	UploadID string
	*orders.RunState
	Percent int
	Reasons []reasonCount
	Errors  []orders.RowError // the first importErrorsShown
	More    int               // errors not shown (in the error file)
}

type reasonCount struct {
	Code string
	N    int
}

// importErrorsShown bounds the problems listed on the page; the error file
// has all of them.
const importErrorsShown = 200

func newRunView(id string, st *orders.RunState) *runView {
	if st == nil {
		return nil
	}
	v := &runView{UploadID: id, RunState: st}
	p := st.Progress
	switch {
	case st.State == orders.RunDone:
		v.Percent = 100
	case st.Expected > 0:
		v.Percent = min(99, p.Rows*100/st.Expected)
	case p.Total > 0 && p.Bytes > 0:
		v.Percent = int(min(99, p.Bytes*100/p.Total))
	}
	rejected := p.Rejected
	if st.Report != nil {
		rejected = st.Report.Rejected
		v.Errors = st.Report.Errors[:min(len(st.Report.Errors), importErrorsShown)]
		v.More = len(st.Report.Errors) - len(v.Errors) + st.Report.ErrorsDropped
	}
	for code, n := range rejected {
		v.Reasons = append(v.Reasons, reasonCount{code, n})
	}
	slices.SortFunc(v.Reasons, func(a, b reasonCount) int { return cmp.Or(b.N-a.N, strings.Compare(a.Code, b.Code)) })
	return v
}

// importUpload reads the upload the path names.
func (s *Server) importUpload(r *http.Request) (*orders.Uploads, *orders.Upload, error) {
	up, err := s.importUploads()
	if err != nil {
		return nil, nil, err
	}
	u, err := up.Get(r.PathValue("id"))
	return up, u, err
}

// importState gathers the page of an upload.
func (s *Server) importState(up *orders.Uploads, u *orders.Upload) (*importView, error) {
	v := &importView{Upload: u, Size: sizeText(u.Size), Mapped: u.Mapping != nil, Platform: "shop"}
	m := orders.Mapping{}
	if u.Mapping != nil {
		m = *u.Mapping
		_, preset := orders.Preset(m.Name)
		v.Custom, v.Platform = !preset, m.Platform
		if v.Custom && m.Name != "custom" {
			v.SaveAs = m.Name
		}
	}
	chosen := m.ColumnsIn(u.Header)
	for _, f := range orders.Fields {
		v.Fields = append(v.Fields, importField{Field: string(f), Required: orders.Required(f), Chosen: chosen[f]})
	}
	dry, err := up.State(u.ID, orders.RunDry)
	if err != nil {
		return nil, err
	}
	run, err := up.State(u.ID, orders.RunImport)
	if err != nil {
		return nil, err
	}
	v.Dry, v.Run = newRunView(u.ID, dry), newRunView(u.ID, run)
	v.CanImport = dry != nil && dry.State == orders.RunDone && !dry.Waiting() && !run.Waiting()
	return v, nil
}

// ordersImportShow shows an uploaded file's page.
func (s *Server) ordersImportShow(w http.ResponseWriter, r *http.Request) {
	up, u, err := s.importUpload(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, err := s.importState(up, u)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "orders-import", v)
}

// ordersImportProgress renders a run's card alone; htmx polls it while the
// run waits or runs.
func (s *Server) ordersImportProgress(w http.ResponseWriter, r *http.Request) {
	up, u, err := s.importUpload(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	kind := r.URL.Query().Get("run")
	if kind != orders.RunDry && kind != orders.RunImport {
		s.pageError(w, r, kith.Errorf(kith.EINVALID, "The parameter run must be dry or import."))
		return
	}
	v, err := s.importState(up, u)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if kind == orders.RunDry {
		s.render(w, r, http.StatusOK, "import-dry", v)
		return
	}
	s.render(w, r, http.StatusOK, "import-run", v)
}

// startImportRun marks a run queued and enqueues its job on this node's
// queue (the file is in this node's data folder).
func (s *Server) startImportRun(r *http.Request, u *orders.Upload, kind string) error {
	up := s.OrderUploads
	for _, k := range []string{orders.RunDry, orders.RunImport} {
		st, err := up.State(u.ID, k)
		if err != nil {
			return err
		}
		if st.Waiting() {
			return kith.Errorf(kith.ECONFLICT, "A %s of this file is not finished yet; wait for it.", map[string]string{orders.RunDry: "dry run", orders.RunImport: "import"}[k])
		}
	}
	st := &orders.RunState{Kind: kind, State: orders.RunQueued, Queued: s.Clock.Now()}
	if err := up.SetState(u.ID, st); err != nil {
		return err
	}
	_, err := s.Jobs.Client().Insert(r.Context(), orders.ImportArgs{Upload: u.ID, Run: kind, By: principal(r).Name}, &river.InsertOpts{Queue: jobs.NodeQueue(s.Node)})
	if err != nil {
		st.State, st.Error = orders.RunFailed, "the job could not be enqueued"
		up.SetState(u.ID, st)
		return fmt.Errorf("web: enqueue import: %w", err)
	}
	return nil
}

// ordersImportMapping takes the mapping form: one column per field, the
// platform, and a name to remember it under; then the dry run starts again.
func (s *Server) ordersImportMapping(w http.ResponseWriter, r *http.Request) {
	up, u, err := s.importUpload(r)
	if err == nil {
		err = parseForm(w, r)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	chosen := map[orders.Field]string{}
	for _, f := range orders.Fields {
		c := r.PostFormValue("col." + string(f))
		if c != "" && !slices.Contains(u.Header, c) {
			s.pageError(w, r, kith.Errorf(kith.EINVALID, "The file has no column %q.", clip(c, 40)))
			return
		}
		chosen[f] = c
	}
	platform := cmp.Or(strings.TrimSpace(r.PostFormValue("platform")), "shop")
	saveAs := strings.TrimSpace(r.PostFormValue("save_as"))
	refuse := func(p *problem) {
		v, err := s.importState(up, u)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		// The form shows what was chosen, not what was stored.
		v.Platform, v.SaveAs, v.Problem = platform, saveAs, p
		for i := range v.Fields {
			v.Fields[i].Chosen = chosen[orders.Field(v.Fields[i].Field)]
		}
		s.render(w, r, p.Status, "orders-import", v)
	}
	if missing := orders.Unmapped(chosen); len(missing) > 0 {
		names := make([]string, len(missing))
		for i, f := range missing {
			names[i] = fmt.Sprintf("%s (%s)", i18nField(r, "import.field."+string(f)), f)
		}
		refuse(invalid(r, "import.unmapped", strings.Join(names, ", ")))
		return
	}
	m, err := orders.MappingOf(cmp.Or(saveAs, "custom"), platform, chosen)
	if err == nil && saveAs != "" {
		err = s.ordersStore().SaveMapping(r.Context(), m)
	}
	if err == nil {
		u.Mapping = &m
		if err = up.Put(u); err == nil {
			err = up.ClearState(u.ID, orders.RunDry)
		}
	}
	if err == nil {
		err = s.startImportRun(r, u, orders.RunDry)
	}
	if err != nil {
		if p := s.problemOf(r, err); p != nil {
			refuse(p)
			return
		}
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/orders/import/"+u.ID+"?done=mapped", http.StatusSeeOther)
}

// ordersImportRun starts the import of a file whose dry run has finished.
func (s *Server) ordersImportRun(w http.ResponseWriter, r *http.Request) {
	up, u, err := s.importUpload(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	dry, err := up.State(u.ID, orders.RunDry)
	if err == nil && (dry == nil || dry.State != orders.RunDone) {
		err = kith.Errorf(kith.ECONFLICT, "Check the file in a dry run first.")
	}
	if err == nil {
		err = s.startImportRun(r, u, orders.RunImport)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/orders/import/"+u.ID+"#import-run", http.StatusSeeOther)
}

// ordersImportErrors downloads the refused rows of a run as CSV, formulas
// neutralised (orders.WriteErrors).
func (s *Server) ordersImportErrors(w http.ResponseWriter, r *http.Request) {
	up, u, err := s.importUpload(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	kind := r.URL.Query().Get("run")
	if kind != orders.RunDry && kind != orders.RunImport {
		s.pageError(w, r, kith.Errorf(kith.EINVALID, "The parameter run must be dry or import."))
		return
	}
	st, err := up.State(u.ID, kind)
	if err == nil && (st == nil || st.Report == nil) {
		err = kith.Errorf(kith.ENOTFOUND, "This run has no report yet.")
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="orders-%s-%s-errors.csv"`, u.ID[:8], kind))
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("\ufeff")) // spreadsheets read UTF-8 with a byte-order mark
	if err := orders.WriteErrors(w, st.Report.Errors); err != nil {
		s.Log.Warn("error file", "upload", u.ID, "err", err)
	}
}
