package shard

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// SchemaVersion is the version of the sample schema this package writes and reads.
const SchemaVersion = 1

// IgnoreIndex is the label of an untrained position (PyTorch's cross-entropy ignore_index).
const IgnoreIndex = -100

// Column names, in schema order.
const (
	ColInputIDs      = "input_ids"
	ColLabels        = "labels"
	ColGrids         = "image_grid_thw"
	ColImageRows     = "image_rows"
	ColSourceFile    = "source_file"
	ColSourceRow     = "source_row"
	ColNumTokens     = "num_tokens"
	ColNumLossTokens = "num_loss_tokens"
)

// Schema metadata keys.
const (
	metaVersion      = "glmflow.sample.version"
	metaImageTokenID = "glmflow.image_token_id"
	metaMergeSize    = "glmflow.merge_size"
	metaPatchSize    = "glmflow.patch_size"
)

// column indices in schema order
const (
	colInputIDs = iota
	colLabels
	colGrids
	colImageRows
	colSourceFile
	colSourceRow
	colNumTokens
	colNumLossTokens
	numCols
)

func listOf(t arrow.DataType) arrow.DataType {
	return arrow.ListOfNonNullable(t)
}

// fields is the schema without metadata.
var fields = []arrow.Field{
	{Name: ColInputIDs, Type: listOf(arrow.PrimitiveTypes.Int32)},
	{Name: ColLabels, Type: listOf(arrow.PrimitiveTypes.Int32)},
	{Name: ColGrids, Type: listOf(arrow.FixedSizeListOfNonNullable(3, arrow.PrimitiveTypes.Int32))},
	{Name: ColImageRows, Type: listOf(arrow.BinaryTypes.Binary)},
	{Name: ColSourceFile, Type: arrow.BinaryTypes.String},
	{Name: ColSourceRow, Type: arrow.PrimitiveTypes.Int64},
	{Name: ColNumTokens, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColNumLossTokens, Type: arrow.PrimitiveTypes.Int32},
}

// Layout is what the per-row checks need to know about tokens and pixels. It is stored in
// each shard's schema metadata and in the manifest.
type Layout struct {
	ImageTokenID int32 `json:"image_token_id"` // <|image|> (151363 for GLM-4.5V)
	MergeSize    int   `json:"merge_size"`     // spatial merge size m (2): an image has h·w/m² tokens
	PatchSize    int   `json:"patch_size"`     // ps (14): a stored patch row has 3·ps·ps bytes
}

// RowBytes is the length of one stored patch row: 3·ps·ps uint8 values (588 for ps = 14).
func (l Layout) RowBytes() int { return 3 * l.PatchSize * l.PatchSize }

// Validate checks the layout's ranges.
func (l Layout) Validate() error {
	switch {
	case l.ImageTokenID < 0:
		return fmt.Errorf("layout: image_token_id %d < 0", l.ImageTokenID)
	case l.MergeSize < 1 || l.MergeSize > 16:
		return fmt.Errorf("layout: merge_size %d outside [1, 16]", l.MergeSize)
	case l.PatchSize < 1 || l.PatchSize > 64:
		return fmt.Errorf("layout: patch_size %d outside [1, 64]", l.PatchSize)
	}
	return nil
}

// Schema is the Arrow schema of a shard with layout l, metadata included.
func Schema(l Layout) *arrow.Schema {
	md := arrow.NewMetadata(
		[]string{metaVersion, metaImageTokenID, metaMergeSize, metaPatchSize},
		[]string{strconv.Itoa(SchemaVersion), strconv.Itoa(int(l.ImageTokenID)), strconv.Itoa(l.MergeSize), strconv.Itoa(l.PatchSize)},
	)
	return arrow.NewSchema(fields, &md)
}

// SchemaField is one column as the manifest records it.
type SchemaField struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// SchemaFields lists the columns with their types in a name-independent notation, e.g.
// {"image_grid_thw", "list<fixed_size_list<int32,3>>"}.
func SchemaFields() []SchemaField {
	out := make([]SchemaField, len(fields))
	for i, f := range fields {
		out[i] = SchemaField{Name: f.Name, Type: typeString(f.Type)}
	}
	return out
}

// typeString renders a type without list element names (Parquet calls them "element", Arrow
// "item") and with "?" after nullable elements.
func typeString(t arrow.DataType) string {
	switch t := t.(type) {
	case *arrow.ListType:
		return "list<" + elemString(t.ElemField()) + ">"
	case *arrow.FixedSizeListType:
		return fmt.Sprintf("fixed_size_list<%s,%d>", elemString(t.ElemField()), t.Len())
	default:
		return t.String()
	}
}

func elemString(f arrow.Field) string {
	s := typeString(f.Type)
	if f.Nullable {
		s += "?"
	}
	return s
}

// checkSchema verifies s against the expected columns and decodes the layout from its
// metadata. name is the file name for errors.
func checkSchema(name string, s *arrow.Schema) (Layout, error) {
	var l Layout
	md := s.Metadata()
	get := func(key string) (int, error) {
		i := md.FindKey(key)
		if i < 0 {
			return 0, fmt.Errorf("%s: schema metadata %q missing (not a glmflow sample shard?)", name, key)
		}
		v, err := strconv.Atoi(md.Values()[i])
		if err != nil {
			return 0, fmt.Errorf("%s: schema metadata %q = %q: %v", name, key, md.Values()[i], err)
		}
		return v, nil
	}
	v, err := get(metaVersion)
	if err != nil {
		return l, err
	}
	if v != SchemaVersion {
		return l, fmt.Errorf("%s: sample schema version %d, this build reads version %d", name, v, SchemaVersion)
	}
	id, err := get(metaImageTokenID)
	if err != nil {
		return l, err
	}
	if l.MergeSize, err = get(metaMergeSize); err != nil {
		return l, err
	}
	if l.PatchSize, err = get(metaPatchSize); err != nil {
		return l, err
	}
	if id < 0 || id > 1<<31-1 {
		return l, fmt.Errorf("%s: schema metadata %q = %d out of range", name, metaImageTokenID, id)
	}
	l.ImageTokenID = int32(id)
	if err := l.Validate(); err != nil {
		return l, fmt.Errorf("%s: schema metadata: %w", name, err)
	}
	if s.NumFields() != len(fields) {
		return l, fmt.Errorf("%s: %d columns, want %d (%s)", name, s.NumFields(), len(fields), columnNames())
	}
	for i, want := range fields {
		got := s.Field(i)
		if got.Name != want.Name {
			return l, fmt.Errorf("%s: column %d is %q, want %q", name, i, got.Name, want.Name)
		}
		if gt, wt := typeString(got.Type), typeString(want.Type); gt != wt || got.Nullable {
			if got.Nullable {
				gt += " (nullable)"
			}
			return l, fmt.Errorf("%s: column %q has type %s, want %s (non-null)", name, got.Name, gt, wt)
		}
	}
	return l, nil
}

func columnNames() string {
	s := ""
	for i, f := range fields {
		if i > 0 {
			s += ", "
		}
		s += f.Name
	}
	return s
}
