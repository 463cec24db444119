package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADME_ListsEverySetting keeps README's configuration table in step
// with the key table.
func TestREADME_ListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, k := range keys {
		row := "| `" + k.envName() + "`"
		if !strings.Contains(readme, row) {
			t.Errorf("README's configuration table has no row for %s", k.envName())
		}
	}
}
