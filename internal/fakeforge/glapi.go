package fakeforge

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
)

// REST endpoints of GitLab's merge rules: approvals, discussions, and note
// edits. Bodies are shaped like GitLab's (compare testdata/api).

// apiApprover is one entry of approved_by.
type apiApprover struct {
	User       apiUser `json:"user"`
	ApprovedAt *string `json:"approved_at"`
}

type apiApprovalRuleShort struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	RuleType string `json:"rule_type"`
}

// apiApprovals is GitLab's answer to GET .../approvals, approve and
// unapprove.
type apiApprovals struct {
	ID                             int64                  `json:"id"`
	IID                            int64                  `json:"iid"`
	ProjectID                      int64                  `json:"project_id"`
	Title                          string                 `json:"title"`
	Description                    string                 `json:"description"`
	State                          string                 `json:"state"`
	CreatedAt                      *string                `json:"created_at"`
	UpdatedAt                      *string                `json:"updated_at"`
	MergeStatus                    string                 `json:"merge_status"`
	Approved                       bool                   `json:"approved"`
	ApprovalsRequired              int                    `json:"approvals_required"`
	ApprovalsLeft                  int                    `json:"approvals_left"`
	RequirePasswordToApprove       bool                   `json:"require_password_to_approve"`
	ApprovedBy                     []apiApprover          `json:"approved_by"`
	SuggestedApprovers             []apiUser              `json:"suggested_approvers"`
	Approvers                      []apiApprover          `json:"approvers"`
	ApproverGroups                 []struct{}             `json:"approver_groups"`
	UserHasApproved                bool                   `json:"user_has_approved"`
	UserCanApprove                 bool                   `json:"user_can_approve"`
	ApprovalRulesLeft              []apiApprovalRuleShort `json:"approval_rules_left"`
	HasApprovalRules               bool                   `json:"has_approval_rules"`
	MergeRequestApproversAvailable bool                   `json:"merge_request_approvers_available"`
	MultipleApprovalRulesAvailable bool                   `json:"multiple_approval_rules_available"`
	InvalidApproversRules          []apiApprovalRuleShort `json:"invalid_approvers_rules"`
}

type apiApprovalRule struct {
	ID                   int64      `json:"id"`
	Name                 string     `json:"name"`
	RuleType             string     `json:"rule_type"`
	EligibleApprovers    []apiUser  `json:"eligible_approvers"`
	ApprovalsRequired    int        `json:"approvals_required"`
	Users                []apiUser  `json:"users"`
	Groups               []struct{} `json:"groups"`
	ContainsHiddenGroups bool       `json:"contains_hidden_groups"`
	ApprovedBy           []apiUser  `json:"approved_by"`
	SourceRule           *struct{}  `json:"source_rule"`
	Approved             bool       `json:"approved"`
	Overridden           bool       `json:"overridden"`
}

// apiApprovalState is GitLab's answer to GET .../approval_state.
type apiApprovalState struct {
	ApprovalRulesOverwritten bool              `json:"approval_rules_overwritten"`
	Rules                    []apiApprovalRule `json:"rules"`
}

type apiDiscussion struct {
	ID             string `json:"id"`
	IndividualNote bool   `json:"individual_note"`
	Notes          []any  `json:"notes"`
}

// The fake's one approval rule: any member who may approve counts.
const (
	anyApproverName = "All Members"
	anyApproverType = "any_approver"
)

// Builders below read state: call them with f.mu held.

func approvalsLeft(p *project, m *mergeRequest) int {
	return max(p.rules.approvalsRequired-len(m.review.approvals), 0)
}

func (f *Forge) apiApprovalsOf(p *project, m *mergeRequest, viewer *user) apiApprovals {
	left := approvalsLeft(p, m)
	mine := m.review.approvedBy(viewer.ID)
	a := apiApprovals{
		ID: m.ID, IID: m.IID, ProjectID: p.ID, Title: m.Title, Description: m.Description, State: m.State,
		CreatedAt: apiTime(m.Created), UpdatedAt: apiTime(m.Updated), MergeStatus: mergeStatus(detailedMergeStatus(p, m)),
		ApprovalsRequired: p.rules.approvalsRequired, ApprovalsLeft: left,
		ApprovedBy: []apiApprover{}, SuggestedApprovers: []apiUser{}, Approvers: []apiApprover{},
		ApproverGroups: []struct{}{}, UserHasApproved: mine,
		UserCanApprove: !mine && m.State == StateOpened && f.st.access(p, viewer) >= Developer, Approved: left == 0,
		ApprovalRulesLeft: []apiApprovalRuleShort{}, HasApprovalRules: p.rules.approvalsRequired > 0,
		MergeRequestApproversAvailable: true, InvalidApproversRules: []apiApprovalRuleShort{},
	}
	for _, ap := range m.review.approvals {
		a.ApprovedBy = append(a.ApprovedBy, apiApprover{User: f.apiUserOf(f.st.users[ap.UserID]), ApprovedAt: apiTime(ap.At)})
	}
	if left > 0 {
		a.ApprovalRulesLeft = append(a.ApprovalRulesLeft, apiApprovalRuleShort{ID: p.rules.ruleID, Name: anyApproverName, RuleType: anyApproverType})
	}
	return a
}

func (f *Forge) apiApprovalStateOf(p *project, m *mergeRequest) apiApprovalState {
	s := apiApprovalState{Rules: []apiApprovalRule{}}
	if p.rules.approvalsRequired == 0 {
		return s
	}
	rule := apiApprovalRule{
		ID: p.rules.ruleID, Name: anyApproverName, RuleType: anyApproverType, EligibleApprovers: []apiUser{},
		ApprovalsRequired: p.rules.approvalsRequired, Users: []apiUser{}, Groups: []struct{}{},
		ApprovedBy: []apiUser{}, Approved: approvalsLeft(p, m) == 0,
	}
	ids := make([]int64, 0, len(p.members))
	for id, level := range p.members {
		if level >= Developer {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		rule.EligibleApprovers = append(rule.EligibleApprovers, f.apiUserOf(f.st.users[id]))
	}
	for _, ap := range m.review.approvals {
		rule.ApprovedBy = append(rule.ApprovedBy, f.apiUserOf(f.st.users[ap.UserID]))
	}
	s.Rules = append(s.Rules, rule)
	return s
}

// discussionsOf groups every note of m, system notes included, into its
// discussion, in the order the discussions started.
func (f *Forge) discussionsOf(p *project, m *mergeRequest) []apiDiscussion {
	notes := slices.Concat(m.notes, m.system)
	slices.SortFunc(notes, func(a, b *note) int { return cmp.Compare(a.ID, b.ID) })
	var out []apiDiscussion
	at := map[string]int{}
	for _, n := range notes {
		i, ok := at[n.Discussion]
		if !ok {
			_, resolvable := m.review.threads[n.Discussion]
			i = len(out)
			at[n.Discussion] = i
			out = append(out, apiDiscussion{ID: n.Discussion, IndividualNote: !resolvable, Notes: []any{}})
		}
		out[i].Notes = append(out[i].Notes, f.apiNoteOf(p, m, n))
	}
	return out
}

func (f *Forge) getApprovals(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.mrFor(r, u)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.apiApprovalsOf(p, m, u))
	return nil
}

func (f *Forge) getApprovalState(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.mrFor(r, u)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.apiApprovalStateOf(p, m))
	return nil
}

// approveMR approves as the token's user, who must be a developer at
// least. GitLab answers 304 to an approval already given, 401 when the MR
// cannot be approved (it is not open), 409 when sha is not the head.
func (f *Forge) approveMR(w http.ResponseWriter, r *http.Request, u *user) error {
	var body struct {
		SHA string `json:"sha"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	return f.approval(w, r, u, func(p *project, m *mergeRequest) error {
		return f.approve(r.Context(), p, m.IID, u, param(r, body.SHA, "sha"))
	})
}

func (f *Forge) unapproveMR(w http.ResponseWriter, r *http.Request, u *user) error {
	return f.approval(w, r, u, func(p *project, m *mergeRequest) error {
		return f.unapprove(r.Context(), p, m.IID, u)
	})
}

func (f *Forge) approval(w http.ResponseWriter, r *http.Request, u *user, act func(*project, *mergeRequest) error) error {
	p, err := f.projectFor(r, u, Developer)
	if err != nil {
		return err
	}
	_, m, err := f.mrFor(r, u)
	if err != nil {
		return err
	}
	switch err := act(p, m); {
	case errors.Is(err, errNotModified):
		w.WriteHeader(http.StatusNotModified)
		return nil
	case errors.Is(err, errMRNotOpen):
		return &apiError{http.StatusUnauthorized, "401 Unauthorized"}
	case err != nil:
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusCreated, f.apiApprovalsOf(p, m, u))
	return nil
}

func (f *Forge) listDiscussions(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.mrFor(r, u)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.discussionsOf(p, m)
	if out == nil {
		out = []apiDiscussion{}
	}
	writeJSON(w, http.StatusOK, paginate(w, r, out))
	return nil
}

func (f *Forge) getDiscussion(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.mrFor(r, u)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeDiscussion(w, p, m, r.PathValue("discussion_id"))
}

// writeDiscussion answers with discussion id of m; call with f.mu held.
func (f *Forge) writeDiscussion(w http.ResponseWriter, p *project, m *mergeRequest, id string) error {
	for _, d := range f.discussionsOf(p, m) {
		if d.ID == id {
			writeJSON(w, http.StatusOK, d)
			return nil
		}
	}
	return errNoDiscussion
}

// resolveDiscussion resolves or reopens a thread: ?resolved=true|false.
// The MR's author and developers may.
func (f *Forge) resolveDiscussion(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.mrFor(r, u)
	if err != nil {
		return err
	}
	var body struct {
		Resolved *bool `json:"resolved"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	resolved, err := boolParam(r, body.Resolved, "resolved")
	if err != nil {
		return err
	}
	f.mu.Lock()
	allowed := m.AuthorID == u.ID || f.st.access(p, u) >= Developer
	f.mu.Unlock()
	if !allowed {
		return forbidden()
	}
	id := r.PathValue("discussion_id")
	switch err := f.resolve(p, m.IID, id, u, resolved); {
	case errors.Is(err, errNotResolvable):
		return forbidden()
	case err != nil:
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeDiscussion(w, p, m, id)
}

// boolParam reads a required boolean from the body or the query.
func boolParam(r *http.Request, fromBody *bool, name string) (bool, error) {
	if fromBody != nil {
		return *fromBody, nil
	}
	v := r.FormValue(name)
	if v == "" {
		return false, badRequest("400 Bad request - " + name + " is missing")
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("400 Bad request - " + name + " is invalid")
	}
	return b, nil
}

// updateNote edits a user's note; its author and administrators may.
func (f *Forge) updateNote(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.mrFor(r, u)
	if err != nil {
		return err
	}
	id, err := pathInt(r, "note_id")
	if err != nil {
		return err
	}
	text, err := noteBody(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	i := slices.IndexFunc(m.notes, func(n *note) bool { return n.ID == id })
	allowed := i >= 0 && (m.notes[i].AuthorID == u.ID || u.Admin)
	f.mu.Unlock()
	if i >= 0 && !allowed {
		return forbidden()
	}
	n, _, err := f.editNote(r.Context(), p, m.IID, id, text)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.apiNoteOf(p, m, &n))
	return nil
}
