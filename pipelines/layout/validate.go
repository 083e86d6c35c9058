package layout

import "fmt"

// Model is what a layout is checked against.
type Model struct {
	DecoderLayers int // t units
	VisionUnits   int // V units: 0 for a text-only model, 1 for the vision tower as one unit
	MTPLayers     int // m units
}

// Validate checks l against m (rules in the package doc). The error points at the first
// offending unit in reading order of the rules: counts, order, placement.
func (l *Layout) Validate(m Model) error {
	if m.DecoderLayers < 0 || m.VisionUnits < 0 || m.MTPLayers < 0 {
		return fmt.Errorf("layout: model %+v has a negative count", m)
	}
	type at struct {
		k     Kind
		stage int
		p     pos
	}
	var flat []at
	for j, st := range l.Stages {
		for i, k := range st {
			flat = append(flat, at{k, j, l.pos[j][i]})
		}
	}
	// Counts: exactly one E and L, the model's number of V, t and m.
	for _, c := range []struct {
		k    Kind
		want int
	}{{Embedding, 1}, {Loss, 1}, {Vision, m.VisionUnits}, {Decoder, m.DecoderLayers}, {MTP, m.MTPLayers}} {
		n := 0
		for _, u := range flat {
			if u.k != c.k {
				continue
			}
			n++
			if n == c.want+1 {
				return l.errAt(u.p, "%s unit number %d (%s) but the model has %d", c.k, n, c.k.Name(), c.want)
			}
		}
		if n < c.want {
			return l.errAt(l.endPos(), "the layout has %d %s units (%s), the model has %d", n, c.k, c.k.Name(), c.want)
		}
	}
	// Order: V* E {t} {m} L.
	seenE, seenM := false, false
	for i, u := range flat {
		switch u.k {
		case Vision:
			if seenE {
				return l.errAt(u.p, "V (vision) after E: the vision tower feeds the embedding and comes first")
			}
		case Embedding:
			seenE = true
		default:
			if !seenE {
				return l.errAt(u.p, "%s (%s) before E (embedding)", u.k, u.k.Name())
			}
		}
		switch {
		case u.k == MTP:
			seenM = true
		case u.k == Decoder && seenM:
			return l.errAt(u.p, "decoder layer after an MTP layer; decoder layers come first")
		case u.k == Loss && i != len(flat)-1:
			return l.errAt(flat[i+1].p, "%s (%s) after L (loss); L must be the last unit", flat[i+1].k, flat[i+1].k.Name())
		}
	}
	last := len(l.Stages) - 1
	mtpStage := -1
	for _, u := range flat {
		switch {
		case u.k == Embedding && u.stage != 0:
			return l.errAt(u.p, "E (embedding) is on stage %d (rank %d, chunk %d); it must be on the first stage",
				u.stage, l.Rank(u.stage), l.Chunk(u.stage))
		case u.k == Loss && u.stage != last:
			return l.errAt(u.p, "L (loss) is on stage %d; it must be on the last stage %d (rank %d, chunk %d)",
				u.stage, last, l.Rank(last), l.Chunk(last))
		case u.k == MTP && l.Chunk(u.stage) != l.VP-1:
			return l.errAt(u.p, "MTP layer on chunk %d of rank %d; MTP layers must be in a rank's last chunk (%d)",
				l.Chunk(u.stage), l.Rank(u.stage), l.VP-1)
		case u.k == MTP && mtpStage >= 0 && u.stage != mtpStage:
			return l.errAt(u.p, "MTP layer on stage %d but an earlier one is on stage %d; all MTP layers share one stage",
				u.stage, mtpStage)
		case u.k == MTP:
			mtpStage = u.stage
		}
	}
	return nil
}
