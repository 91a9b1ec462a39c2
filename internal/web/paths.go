package web

// MRPath is the path of an MR's journey page on the dashboard, which the
// MR's status on its forge links to.
func MRPath(forgeName, project string, mr int64) string { return mrURL(forgeName, project, mr) }
