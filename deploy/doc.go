// Package deploy holds almost no code: its tests check the files that install
// Trainyard (the Debian package in packaging/, .goreleaser.yaml, the
// Dockerfile, compose.yaml and the Helm chart in helm/), building and
// inspecting each artefact as far as the machine allows.
//
// They run the packaging tools of the tools/ module (nfpm, Helm and
// GoReleaser's check) and dpkg-deb; a tool that is missing fails
// them. Set TRAINYARD_SKIP_PACKAGING=1 to skip the tests that need a tool,
// on a machine without them; the static checks still run.
package deploy

// SkipEnv names the variable that, set to 1, skips the tests needing a
// packaging tool (here and in deploy/prometheus); CI leaves it unset so
// that a missing tool fails.
const SkipEnv = "TRAINYARD_SKIP_PACKAGING"
