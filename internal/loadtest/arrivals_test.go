package loadtest

import (
	"net/http"
	"testing"
	"time"
)

func TestArrivalsKeepTheFirstSuccessOfACommit(t *testing.T) {
	var a arrivals
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	gitlab := func(event string) http.Header { return http.Header{"X-Gitlab-Event": {event}} }
	github := func(event string) http.Header { return http.Header{"X-Github-Event": {event}} }
	a.note(gitlab("Pipeline Hook"), []byte(`{"object_attributes":{"status":"running","sha":"c1"},"project":{"path_with_namespace":"g/a"}}`), t0)
	a.note(gitlab("Pipeline Hook"), []byte(`{"object_attributes":{"status":"success","sha":"c1"},"project":{"path_with_namespace":"g/a"}}`), t0.Add(time.Second))
	a.note(gitlab("Pipeline Hook"), []byte(`{"object_attributes":{"status":"success","sha":"c1"},"project":{"path_with_namespace":"g/a"}}`), t0.Add(2*time.Second))
	a.note(gitlab("Push Hook"), []byte(`{"object_attributes":{"status":"success","sha":"c9"},"project":{"path_with_namespace":"g/a"}}`), t0)
	a.note(github("check_run"), []byte(`{"action":"completed","check_run":{"head_sha":"c2","conclusion":"failure"},"repository":{"full_name":"o/r"}}`), t0)
	a.note(github("workflow_run"), []byte(`{"action":"completed","workflow_run":{"head_sha":"c2","conclusion":"success"},"repository":{"full_name":"o/r"}}`), t0.Add(3*time.Second))
	for _, c := range []struct {
		project, sha string
		want         time.Time
		ok           bool
	}{
		{"g/a", "c1", t0.Add(time.Second), true},
		{"g/a", "c9", time.Time{}, false},
		{"o/r", "c2", t0.Add(3 * time.Second), true},
	} {
		if got, ok := a.of(c.project, c.sha); ok != c.ok || !got.Equal(c.want) {
			t.Errorf("of(%s, %s) = %v, %v; want %v, %v", c.project, c.sha, got, ok, c.want, c.ok)
		}
	}
}
