package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/store"
)

const (
	// ArchiveFormat names the document Export writes.
	ArchiveFormat = "swarmops-state"
	// ArchiveVersion is the archive layout this build writes and reads.
	ArchiveVersion = 1
)

// Archive is the whole state of a store, as the store holds it: secrets
// stay sealed with the keys that sealed them, so an archive is no more
// readable than the store, and restoring it needs those keys too.
// Sessions, login throttles and idempotency keys are short-lived and are
// not part of it.
type Archive struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	// Schema is the store's schema version when exported.
	Schema     int       `json:"schema"`
	ExportedAt time.Time `json:"exported_at"`
	By         string    `json:"by,omitempty"`
	// KeyIDs are the ids of the keys that sealed the secrets in the
	// archive, for operators to match with SWARMOPS_SECRET_KEY.
	KeyIDs         []string              `json:"key_ids"`
	DefaultCluster string                `json:"default_cluster,omitempty"`
	Clusters       []store.Cluster       `json:"clusters"`
	Users          []store.User          `json:"users"`
	Tokens         []store.Token         `json:"tokens"`
	Registries     []store.Registry      `json:"registries"`
	StackRevisions []store.StackRevision `json:"stack_revisions"`
	// Audit is the audit log, oldest first; absent unless asked for.
	Audit []store.AuditRecord `json:"audit,omitempty"`
}

// Counts says how many records of each kind.
type Counts struct {
	Clusters       int `json:"clusters"`
	Users          int `json:"users"`
	Tokens         int `json:"tokens"`
	Registries     int `json:"registries"`
	StackRevisions int `json:"stack_revisions"`
	Audit          int `json:"audit"`
}

func (c Counts) String() string {
	return fmt.Sprintf("%d clusters, %d users, %d tokens, %d registries, %d stack revisions, %d audit records",
		c.Clusters, c.Users, c.Tokens, c.Registries, c.StackRevisions, c.Audit)
}

// Counts answers how many records of each kind the archive holds.
func (a *Archive) Counts() Counts {
	return Counts{
		Clusters: len(a.Clusters), Users: len(a.Users), Tokens: len(a.Tokens),
		Registries: len(a.Registries), StackRevisions: len(a.StackRevisions), Audit: len(a.Audit),
	}
}

// ExportOptions tunes Export.
type ExportOptions struct {
	// Audit includes the audit log.
	Audit bool
	// By says which build and host exported, for operators.
	By string
}

// Export reads the whole state of st, the raw store (secrets sealed).
func Export(ctx context.Context, st store.Store, opts ExportOptions) (*Archive, error) {
	schema, err := ReadSchema(ctx, st)
	if err != nil {
		return nil, err
	}
	a := &Archive{
		Format: ArchiveFormat, FormatVersion: ArchiveVersion, Schema: schema.Version,
		ExportedAt: time.Now().UTC(), By: opts.By,
	}
	if a.DefaultCluster, err = st.DefaultCluster(ctx); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if a.Clusters, err = st.ListClusters(ctx); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if a.Users, err = st.ListUsers(ctx); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	a.Tokens = []store.Token{}
	for _, u := range a.Users {
		tokens, err := st.ListTokens(ctx, u.Username)
		if err != nil {
			return nil, fmt.Errorf("export: tokens of %q: %w", u.Username, err)
		}
		a.Tokens = append(a.Tokens, tokens...)
	}
	if a.Registries, err = st.ListRegistries(ctx); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if a.StackRevisions, err = exportStackRevisions(ctx, st); err != nil {
		return nil, err
	}
	if opts.Audit {
		// Every record the store keeps: its cap bounds them.
		records, err := st.ListAudit(ctx, store.AuditFilter{Limit: math.MaxInt})
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		slices.Reverse(records)
		a.Audit = records
	}
	a.KeyIDs = []string{}
	for _, b := range a.sealed() {
		if id, err := seal.KeyIDOf(b.data); err == nil && !slices.Contains(a.KeyIDs, id) {
			a.KeyIDs = append(a.KeyIDs, id)
		}
	}
	slices.Sort(a.KeyIDs)
	return a, nil
}

// exportStackRevisions answers every stack's revisions, oldest first.
func exportStackRevisions(ctx context.Context, st store.Store) ([]store.StackRevision, error) {
	refs, err := st.ListRevisedStacks(ctx)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	out := []store.StackRevision{}
	for _, ref := range refs {
		revs, err := st.ListStackRevisions(ctx, ref.Cluster, ref.Stack)
		if err != nil {
			return nil, fmt.Errorf("export: revisions of stack %s/%s: %w", ref.Cluster, ref.Stack, err)
		}
		slices.Reverse(revs)
		out = append(out, revs...)
	}
	return out, nil
}

// Write writes the archive as JSON.
func (a *Archive) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(a); err != nil {
		return fmt.Errorf("write state archive: %w", err)
	}
	return nil
}

// ReadArchive reads an archive Write wrote, refusing a document that is
// not one or whose layout is newer than this build reads.
func ReadArchive(r io.Reader) (*Archive, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read state archive: %w", err)
	}
	var head struct {
		Format        string `json:"format"`
		FormatVersion int    `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("read state archive: not a JSON document made by swarmops state export: %w", err)
	}
	if err := checkFormat(head.Format, head.FormatVersion); err != nil {
		return nil, err
	}
	var a Archive
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&a); err != nil {
		return nil, fmt.Errorf("read state archive: %w", err)
	}
	return &a, nil
}

func checkFormat(format string, version int) error {
	switch {
	case format != ArchiveFormat:
		return fmt.Errorf("read state archive: format %q, want %q (a file made by swarmops state export)", format, ArchiveFormat)
	case version > ArchiveVersion:
		return fmt.Errorf("read state archive: format version %d was written by a newer SwarmOps; this build reads version %d: import it with that SwarmOps or a newer one",
			version, ArchiveVersion)
	case version < 1:
		return fmt.Errorf("read state archive: format version %d is not one SwarmOps writes", version)
	}
	return nil
}

// blob is a sealed secret of an archive and what holds it.
type blob struct {
	what string
	data []byte
}

// sealed answers every sealed secret in the archive.
func (a *Archive) sealed() []blob {
	var out []blob
	for _, c := range a.Clusters {
		if c.TLS != nil && len(c.TLS.KeySealed) > 0 {
			out = append(out, blob{"cluster " + c.Name, c.TLS.KeySealed})
		}
	}
	for _, r := range a.Registries {
		if len(r.PasswordSealed) > 0 {
			out = append(out, blob{"registry " + r.Name, r.PasswordSealed})
		}
	}
	for _, r := range a.StackRevisions {
		for _, path := range slices.Sorted(maps.Keys(r.Sealed)) {
			if f := r.Sealed[path]; len(f.Data) > 0 {
				out = append(out, blob{fmt.Sprintf("stack %s/%s revision %d %s", r.Cluster, r.Stack, r.Number, path), f.Data})
			}
		}
	}
	return out
}

// plaintext answers what holds a secret in the clear: an archive of a
// store at schema 1, exported before its migration sealed them.
func (a *Archive) plaintext() []string {
	var out []string
	for _, c := range a.Clusters {
		if c.TLS != nil && c.TLS.Key != "" {
			out = append(out, "cluster "+c.Name)
		}
	}
	for _, r := range a.Registries {
		if r.Password != "" {
			out = append(out, "registry "+r.Name)
		}
	}
	return out
}

// ImportOptions tunes Import.
type ImportOptions struct {
	// Merge imports into a store that has records: those it has are kept
	// and reported as skipped, never overwritten.
	Merge bool
	// Box holds the keys of the instance that will use the store
	// (SWARMOPS_SECRET_KEY); an archive whose secrets it cannot open is
	// refused. Nil when no key is configured.
	Box *seal.Box
	// By says which build and host imported, for the schema document.
	By string
}

// ImportReport says what Import did.
type ImportReport struct {
	// Schema is the archive's schema version.
	Schema int `json:"schema"`
	// Imported counts the records written, Skipped those the store had
	// already (Merge).
	Imported Counts `json:"imported"`
	Skipped  Counts `json:"skipped"`
	// DefaultCluster is the default mark set, "" when none was.
	DefaultCluster string `json:"default_cluster,omitempty"`
	// SchemaWritten is true when the store had no schema document and got
	// the archive's.
	SchemaWritten bool `json:"schema_written"`
	// Plaintext names the records whose secret the archive held in the
	// clear (schema 1): the migration at the next start seals them.
	Plaintext []string `json:"plaintext,omitempty"`
}

// Import writes the archive into st, the raw store. Without Merge the
// store must be empty (no cluster, user, token, registry or stack
// revision); with Merge the records st has win. Stack revisions keep
// their numbers and the audit log its order. It refuses an archive from
// a newer schema than this build's, and one whose secrets opts.Box could
// not open (the key ids in the sealed data decide, not the archive's
// list).
func Import(ctx context.Context, st store.Store, a *Archive, opts ImportOptions) (ImportReport, error) {
	rep := ImportReport{Schema: a.Schema, Plaintext: a.plaintext()}
	if err := checkFormat(a.Format, a.FormatVersion); err != nil {
		return rep, err
	}
	if err := checkImportable(a, opts.Box); err != nil {
		return rep, err
	}
	hasSchema, err := checkTargetSchema(ctx, st, a, len(rep.Plaintext))
	if err != nil {
		return rep, err
	}
	if !opts.Merge {
		if err := checkEmpty(ctx, st); err != nil {
			return rep, err
		}
	}
	if err := importRecords(ctx, st, a, &rep); err != nil {
		return rep, err
	}
	if err := importStackRevisions(ctx, st, a, &rep); err != nil {
		return rep, err
	}
	if err := importAudit(ctx, st, a, opts.Merge, &rep); err != nil {
		return rep, err
	}
	if !hasSchema {
		if err := WriteSchema(ctx, st, a.Schema, opts.By); err != nil {
			return rep, fmt.Errorf("import: %w", err)
		}
		rep.SchemaWritten = true
	}
	return rep, nil
}

// checkImportable refuses an archive from a newer schema, or whose
// secrets box cannot open.
func checkImportable(a *Archive, box *seal.Box) error {
	if a.Schema > Version {
		return fmt.Errorf("import: the archive is at schema version %d (exported by %s at %s); this build reads up to schema %d: "+
			"import it with a SwarmOps of that version or newer", a.Schema, orUnknown(a.By), a.ExportedAt.Format(time.RFC3339), Version)
	}
	if a.Schema < 1 {
		return fmt.Errorf("import: the archive names schema version %d, which no SwarmOps writes", a.Schema)
	}
	missing := map[string][]string{}
	var ids []string
	for _, b := range a.sealed() {
		id, err := seal.KeyIDOf(b.data)
		if err != nil {
			id = "(damaged)"
		}
		if !box.Has(id) {
			if missing[id] == nil {
				ids = append(ids, id)
			}
			missing[id] = append(missing[id], b.what)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		what := missing[id]
		if len(what) > 3 {
			what = append(what[:3:3], fmt.Sprintf("%d more", len(missing[id])-3))
		}
		parts[i] = fmt.Sprintf("key id %s (%s)", id, strings.Join(what, ", "))
	}
	have := "no key"
	if box != nil {
		have = "key ids " + strings.Join(box.KeyIDs(), ", ")
	}
	return fmt.Errorf("import: the archive's secrets were sealed with keys this instance does not have: %s; SWARMOPS_SECRET_KEY gives %s. "+
		"Set SWARMOPS_SECRET_KEY to the key of the exporting instance (its key file in local mode), the same on every instance; nothing was imported",
		strings.Join(parts, "; "), have)
}

// checkTargetSchema answers whether st has a schema document, refusing
// a store this build cannot use or one whose schema does not fit the
// archive's: sealed data into a store not yet migrated, or secrets in
// the clear into a store whose migration has already run.
func checkTargetSchema(ctx context.Context, st store.Store, a *Archive, plaintext int) (bool, error) {
	if _, err := st.GetMeta(ctx, SchemaDoc); errors.Is(err, errs.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("import: %w", err)
	}
	have, err := ReadSchema(ctx, st)
	if err != nil {
		return true, fmt.Errorf("import: %w", err)
	}
	if err := CheckReadable(have); err != nil {
		return true, fmt.Errorf("import: %w", err)
	}
	switch {
	case have.Version < a.Schema:
		return true, fmt.Errorf("import: the store is at schema version %d, older than the archive's %d: "+
			"start this SwarmOps on it once (it migrates the store), then import again", have.Version, a.Schema)
	case have.Version > a.Schema && plaintext > 0:
		return true, fmt.Errorf("import: the archive holds %d secrets in the clear (schema %d) and the store is at schema %d, "+
			"where secrets are sealed: import into a store no instance has started on yet, or start this SwarmOps on the exported store "+
			"once (it seals them) and export again", plaintext, a.Schema, have.Version)
	}
	return true, nil
}

// checkEmpty refuses a store holding any record an archive could hold.
func checkEmpty(ctx context.Context, st store.Store) error {
	var has []string
	clusters, err := st.ListClusters(ctx)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	users, err := st.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	tokens := 0
	for _, u := range users {
		list, err := st.ListTokens(ctx, u.Username)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		tokens += len(list)
	}
	regs, err := st.ListRegistries(ctx)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	stacks, err := st.ListRevisedStacks(ctx)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	for _, n := range []struct {
		count int
		what  string
	}{{len(clusters), "clusters"}, {len(users), "users"}, {tokens, "tokens"}, {len(regs), "registries"}, {len(stacks), "stacks with revisions"}} {
		if n.count > 0 {
			has = append(has, fmt.Sprintf("%d %s", n.count, n.what))
		}
	}
	if len(has) > 0 {
		return errs.Conflict("import: the %s store is not empty (%s); import into an empty store, or merge (keeping the records it has) with --merge",
			st.Kind(), strings.Join(has, ", "))
	}
	return nil
}

// created counts a create's outcome: a conflict is a record the store
// has, skipped.
func created(err error, imported, skipped *int) error {
	switch {
	case err == nil:
		*imported++
	case errors.Is(err, errs.ErrConflict):
		*skipped++
	default:
		return err
	}
	return nil
}

// importRecords creates clusters, users, tokens and registries, and sets
// the default mark when the store has none.
func importRecords(ctx context.Context, st store.Store, a *Archive, rep *ImportReport) error {
	for _, c := range a.Clusters {
		if err := created(st.CreateCluster(ctx, c), &rep.Imported.Clusters, &rep.Skipped.Clusters); err != nil {
			return fmt.Errorf("import: cluster %q: %w", c.Name, err)
		}
	}
	if a.DefaultCluster != "" {
		have, err := st.DefaultCluster(ctx)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		if have == "" {
			if err := st.SetDefaultCluster(ctx, a.DefaultCluster); err != nil {
				return fmt.Errorf("import: default cluster: %w", err)
			}
			rep.DefaultCluster = a.DefaultCluster
		}
	}
	for _, u := range a.Users {
		if err := created(st.CreateUser(ctx, u), &rep.Imported.Users, &rep.Skipped.Users); err != nil {
			return fmt.Errorf("import: user %q: %w", u.Username, err)
		}
	}
	for _, t := range a.Tokens {
		// A token is the same one when its hash is: CreateToken checks
		// only the name.
		_, err := st.GetTokenByHash(ctx, t.Hash)
		switch {
		case err == nil:
			rep.Skipped.Tokens++
			continue
		case !errors.Is(err, errs.ErrNotFound):
			return fmt.Errorf("import: token %q of %q: %w", t.Name, t.Username, err)
		}
		if err := created(st.CreateToken(ctx, t), &rep.Imported.Tokens, &rep.Skipped.Tokens); err != nil {
			return fmt.Errorf("import: token %q of %q: %w", t.Name, t.Username, err)
		}
	}
	for _, r := range a.Registries {
		if err := created(st.CreateRegistry(ctx, r), &rep.Imported.Registries, &rep.Skipped.Registries); err != nil {
			return fmt.Errorf("import: registry %q: %w", r.Name, err)
		}
	}
	return nil
}

// importStackRevisions puts revisions under their numbers, skipping the
// numbers the store has.
func importStackRevisions(ctx context.Context, st store.Store, a *Archive, rep *ImportReport) error {
	for _, r := range a.StackRevisions {
		_, err := st.GetStackRevision(ctx, r.Cluster, r.Stack, r.Number)
		switch {
		case err == nil:
			rep.Skipped.StackRevisions++
			continue
		case !errors.Is(err, errs.ErrNotFound):
			return fmt.Errorf("import: revision %d of stack %s/%s: %w", r.Number, r.Cluster, r.Stack, err)
		}
		if err := st.PutStackRevision(ctx, r); err != nil {
			return fmt.Errorf("import: revision %d of stack %s/%s: %w", r.Number, r.Cluster, r.Stack, err)
		}
		rep.Imported.StackRevisions++
	}
	return nil
}

// importAudit appends the archive's audit records oldest first; merging,
// those whose id the store's log has are skipped.
func importAudit(ctx context.Context, st store.Store, a *Archive, merge bool, rep *ImportReport) error {
	if len(a.Audit) == 0 {
		return nil
	}
	have := map[string]bool{}
	if merge {
		records, err := st.ListAudit(ctx, store.AuditFilter{Limit: math.MaxInt})
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		for _, r := range records {
			have[r.ID] = true
		}
	}
	for _, r := range a.Audit {
		if r.ID != "" && have[r.ID] {
			rep.Skipped.Audit++
			continue
		}
		if err := st.AppendAudit(ctx, r); err != nil {
			return fmt.Errorf("import: audit record %s: %w", r.ID, err)
		}
		rep.Imported.Audit++
	}
	return nil
}
