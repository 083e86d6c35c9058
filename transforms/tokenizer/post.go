package tokenizer

import "fmt"

// Post-processors (HF tokenizers/src/processors) add the special tokens a model expects around
// one encoded sequence; glmflow applies them only in EncodeWithSpecial (HF's
// add_special_tokens=True). Supported: ByteLevel (offsets only: no ids change),
// TemplateProcessing, RobertaProcessing, BertProcessing, Sequence. Pair templates are not used.
type postProcessor struct {
	prefix, suffix []int32 // ids placed before and after the sequence
}

func parsePostProcessor(raw []byte, path string) (postProcessor, error) {
	var p postProcessor
	if isNull(raw) {
		return p, nil
	}
	return p, p.add(raw, path)
}

func (p *postProcessor) add(raw []byte, path string) error {
	typ, err := componentType(raw, path)
	if err != nil {
		return err
	}
	switch typ {
	case "ByteLevel":
		return nil
	case "Sequence":
		var v struct {
			Processors []rawJSON `json:"processors"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return err
		}
		for i, sub := range v.Processors {
			if err := p.add(sub, fmt.Sprintf("%s.processors[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case "RobertaProcessing", "BertProcessing":
		var v struct {
			Sep [2]any `json:"sep"`
			Cls [2]any `json:"cls"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return err
		}
		cls, err := tokenPairID(v.Cls, path+".cls")
		if err != nil {
			return err
		}
		sep, err := tokenPairID(v.Sep, path+".sep")
		if err != nil {
			return err
		}
		// Applied after earlier processors: the new tokens wrap everything so far.
		p.prefix = append([]int32{cls}, p.prefix...)
		p.suffix = append(p.suffix, sep)
		return nil
	case "TemplateProcessing":
		var v struct {
			Single []struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
				Sequence *struct {
					ID string `json:"id"`
				} `json:"Sequence"`
			} `json:"single"`
			SpecialTokens map[string]struct {
				IDs []int64 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := decodeAt(raw, &v, path); err != nil {
			return err
		}
		var before, after []int32
		seen := false
		for i, piece := range v.Single {
			ipath := fmt.Sprintf("%s.single[%d]", path, i)
			switch {
			case piece.Sequence != nil && piece.SpecialToken == nil:
				if piece.Sequence.ID != "A" || seen {
					return fmt.Errorf("%s: want one Sequence A in a single-sequence template", ipath)
				}
				seen = true
			case piece.SpecialToken != nil && piece.Sequence == nil:
				st, ok := v.SpecialTokens[piece.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("%s: special token %q missing from %s.special_tokens", ipath, piece.SpecialToken.ID, path)
				}
				for _, id := range st.IDs {
					if id < 0 || id > maxTokenID {
						return fmt.Errorf("%s.special_tokens[%q]: id %d out of range", path, piece.SpecialToken.ID, id)
					}
					if seen {
						after = append(after, int32(id))
					} else {
						before = append(before, int32(id))
					}
				}
			default:
				return fmt.Errorf("%s: want exactly one of SpecialToken or Sequence", ipath)
			}
		}
		if !seen {
			return fmt.Errorf("%s.single: no Sequence A", path)
		}
		p.prefix = append(before, p.prefix...)
		p.suffix = append(p.suffix, after...)
		return nil
	}
	return fmt.Errorf("%s.type: post-processor %q is not supported (supported: ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, Sequence)", path, typ)
}

// tokenPairID reads a ["token", id] pair.
func tokenPairID(v [2]any, path string) (int32, error) {
	f, ok := v[1].(float64)
	if _, isStr := v[0].(string); !isStr || !ok || f < 0 || f > maxTokenID || f != float64(int64(f)) {
		return 0, fmt.Errorf("%s: want [\"token\", id]", path)
	}
	return int32(f), nil
}
