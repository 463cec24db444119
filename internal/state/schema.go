package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Version is the schema version this build writes. Each version above 1
// has a migration in migrations; a build reads every version up to its
// own.
//
//	1  no schema document; engine TLS keys and registry passwords in the
//	   clear.
//	2  the schema document; TLS keys and registry passwords sealed
//	   (key_sealed, password_sealed); records keep fields they do not know.
const Version = 2

// minReaderOf is, for each version, the oldest build (by the version it
// writes) that can still use a store at that version: a version that
// only adds fields keeps its predecessor's, one that changes what a field
// means raises it.
var minReaderOf = map[int]int{1: 1, 2: 2}

// SchemaDoc is the store's meta document naming its schema.
const SchemaDoc = "schema"

// Schema is the stored schema document.
type Schema struct {
	// Version is the schema the store is at.
	Version int `json:"version"`
	// MinReader is the oldest build (by its Version) that can use the
	// store; older ones refuse to start.
	MinReader int       `json:"min_reader"`
	UpdatedAt time.Time `json:"updated_at"`
	// By says which build and instance wrote it, for operators.
	By string `json:"by,omitempty"`
}

// ReadSchema answers the store's schema. A store without the document is
// at version 1 (what builds before the document wrote, or an empty store).
func ReadSchema(ctx context.Context, st store.Meta) (Schema, error) {
	data, err := st.GetMeta(ctx, SchemaDoc)
	if errors.Is(err, errs.ErrNotFound) {
		return Schema{Version: 1, MinReader: 1}, nil
	}
	if err != nil {
		return Schema{}, fmt.Errorf("read schema version: %w", err)
	}
	var s Schema
	if err := json.Unmarshal(data, &s); err != nil || s.Version < 1 {
		return Schema{}, fmt.Errorf("the store's schema document is damaged (%q); restore it from a backup", data)
	}
	if s.MinReader < 1 {
		s.MinReader = 1
	}
	return s, nil
}

// WriteSchema records that the store is at version v, written by by.
func WriteSchema(ctx context.Context, st store.Meta, v int, by string) error {
	data, err := json.Marshal(Schema{Version: v, MinReader: minReaderOf[v], UpdatedAt: time.Now().UTC(), By: by})
	if err != nil {
		return err
	}
	if err := st.PutMeta(ctx, SchemaDoc, data); err != nil {
		return fmt.Errorf("write schema version %d: %w", v, err)
	}
	return nil
}

// TooOldError says this build cannot use the store: a newer SwarmOps
// migrated it past what this one reads.
type TooOldError struct{ Stored Schema }

func (e *TooOldError) Error() string {
	return fmt.Sprintf("the store is at schema version %d (written by %s at %s), which needs a SwarmOps that reads schema %d or later; "+
		"this build reads up to schema %d: upgrade this instance (or restore a backup taken before the upgrade)",
		e.Stored.Version, orUnknown(e.Stored.By), e.Stored.UpdatedAt.Format(time.RFC3339), e.Stored.MinReader, Version)
}

// CheckReadable answers a *TooOldError when this build cannot use a store
// at s.
func CheckReadable(s Schema) error {
	if s.MinReader > Version {
		return &TooOldError{Stored: s}
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown build"
	}
	return s
}
