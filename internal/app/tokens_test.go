package app

import (
	"reflect"
	"testing"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/config"
)

func TestAPITokensKeepTheirRoles(t *testing.T) {
	cfg := config.Defaults()
	cfg.API.Tokens = []config.APIToken{
		{Name: "release-bot", Role: config.RoleWrite, Token: config.NewSecret("w-token-of-a-good-length")},
		{Name: "grafana", Role: config.RoleRead, Token: config.NewSecret("r-token-of-a-good-length")},
	}
	want := []api.Token{
		{Name: "release-bot", Write: true, Value: "w-token-of-a-good-length"},
		{Name: "grafana", Value: "r-token-of-a-good-length"},
	}
	if got := apiTokens(&cfg); !reflect.DeepEqual(got, want) {
		t.Fatalf("apiTokens = %+v, want %+v", got, want)
	}
}
