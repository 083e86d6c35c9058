package makers

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/glmflow/glmflow/datasets/hub"
	"github.com/glmflow/glmflow/transforms/chat"
)

// Maker turns rows of one HF dataset into conversations.
type Maker interface {
	Name() string                              // registry name, e.g. "cord_v2"
	Dataset() string                           // the HF dataset id it was written for
	Config() string                            // the subset folder in the hub layout ("raven"), "" for none
	Splits() []string                          // the splits it accepts
	Columns() []hub.Column                     // the columns it reads, with their kinds
	Make(r hub.Row) (chat.Conversation, error) // one row; errors name file, row and column
}

// Options configure a maker.
type Options struct {
	Prompt string // user prompt for makers with a fixed one (cord_v2); "" keeps the default
}

// Factory builds a maker.
type Factory func(o Options) Maker

var (
	mu       sync.RWMutex
	registry = map[string]Factory{}
)

// Register adds a maker under name. It panics if name is taken (registration happens in init).
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("makers: Register called twice for " + name)
	}
	registry[name] = f
}

// Names lists the registered makers, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New builds the maker registered under name.
func New(name string, o Options) (Maker, error) {
	mu.RLock()
	f, ok := registry[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown maker %q (have %v)", name, Names())
	}
	return f(o), nil
}

// CheckSplit reports an error if m does not accept split.
func CheckSplit(m Maker, split string) error {
	if slices.Contains(m.Splits(), split) {
		return nil
	}
	return fmt.Errorf("maker %s: split %q not supported (supported: %v)", m.Name(), split, m.Splits())
}

// Stream runs m over the Parquet file at path. For every row, in order, fn receives either the
// conversation (err nil) or the row's error (a *hub.RowError naming file, row and column; conv
// then carries only Source). An error returned by fn stops the stream and is returned. Errors
// about the file itself (missing column, wrong type, corrupt Parquet) are returned directly.
func Stream(m Maker, path string, o hub.Options, fn func(conv chat.Conversation, err error) error) error {
	return hub.Rows(path, m.Columns(), o, func(r hub.Row) error {
		src := chat.Source{File: r.File(), Row: r.Index()}
		conv, err := m.Make(r)
		if err != nil {
			var re *hub.RowError
			if !errors.As(err, &re) {
				err = &hub.RowError{File: r.File(), Row: r.Index(), Column: "", Msg: err.Error()}
			}
			return fn(chat.Conversation{Source: src}, err)
		}
		conv.Source = src
		return fn(conv, nil)
	})
}

// userAssistant builds the two-turn conversation all three makers produce: the images first,
// then the prompt, in the user turn; the answer in the assistant turn.
func userAssistant(images []hub.Image, prompt, answer string) chat.Conversation {
	conv := chat.Conversation{Images: make([][]byte, len(images))}
	user := chat.Message{Role: chat.User, Parts: make([]chat.Part, 0, len(images)+1)}
	for i, im := range images {
		conv.Images[i] = im.Bytes
		user.Parts = append(user.Parts, chat.Image(i))
	}
	user.Parts = append(user.Parts, chat.Text(prompt))
	conv.Messages = []chat.Message{user, {Role: chat.Assistant, Parts: []chat.Part{chat.Text(answer)}}}
	return conv
}
