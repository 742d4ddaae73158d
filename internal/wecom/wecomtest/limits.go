package wecomtest

import (
	"fmt"
	"time"
)

// window counts the calls of one API in the current minute and hour. WeCom
// blocks an API that went over a limit until that limit's window ends
// (path/90313, 45009), which a fixed window reproduces.
type window struct {
	minute, hour     time.Time
	inMinute, inHour int
}

// countCall counts a call of the API at path and answers 45009 when the
// per-minute or per-hour limit is exceeded.
func (s *Sandbox) countCall(path string) *apiError {
	now := s.now()
	w := s.limits[path]
	if w == nil {
		w = &window{}
		s.limits[path] = w
	}
	if m := now.Truncate(time.Minute); !m.Equal(w.minute) {
		w.minute, w.inMinute = m, 0
	}
	if h := now.Truncate(time.Hour); !h.Equal(w.hour) {
		w.hour, w.inHour = h, 0
	}
	w.inMinute++
	w.inHour++
	if w.inMinute > s.opt.RateLimitPerMinute {
		return errf(CodeFrequencyLimit, "api freq out of limit: more than %d calls of %s this minute",
			s.opt.RateLimitPerMinute, path)
	}
	if w.inHour > s.opt.RateLimitPerHour {
		return errf(CodeFrequencyLimit, "api freq out of limit: more than %d calls of %s this hour",
			s.opt.RateLimitPerHour, path)
	}
	return nil
}

// fault is an injected error for the next calls of one API.
type fault struct {
	code int
	left int
}

// InjectFault makes the next n calls of the API at path (for example
// "/cgi-bin/externalcontact/batch/get_by_user") answer errcode code, before
// any other check. Use -1 (system busy) or 45033 (concurrency limit) to test
// retries. n <= 0 removes the fault.
func (s *Sandbox) InjectFault(path string, code, n int) error {
	if _, ok := endpoints[path]; !ok {
		return fmt.Errorf("wecomtest: inject fault: unknown API %q", path)
	}
	if code == CodeOK {
		return fmt.Errorf("wecomtest: inject fault: errcode 0 is not a fault")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.faults, path)
		return nil
	}
	s.faults[path] = &fault{code: code, left: n}
	return nil
}

func (s *Sandbox) takeFault(path string) *apiError {
	f := s.faults[path]
	if f == nil {
		return nil
	}
	f.left--
	if f.left <= 0 {
		delete(s.faults, path)
	}
	switch f.code {
	case CodeBusy:
		return errf(CodeBusy, "system busy")
	case CodeConcurrencyLimit:
		return errf(CodeConcurrencyLimit, "api concurrent out of limit")
	case CodeFrequencyLimit:
		return errf(CodeFrequencyLimit, "api freq out of limit")
	}
	return errf(f.code, "injected fault")
}
