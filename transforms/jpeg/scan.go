package jpeg

import "math"

// naturalOrder maps zigzag index to natural (row-major) index, with 16
// extra entries of 63 so that corrupt run lengths stay in bounds exactly as
// libjpeg's jpeg_natural_order does.
var naturalOrder = [80]int{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
	63, 63, 63, 63, 63, 63, 63, 63,
	63, 63, 63, 63, 63, 63, 63, 63,
}

// zigzag128 is naturalOrder as bytes padded to 128 entries (63 past the
// end), so that the sequential decoder's k&127 index needs no bounds check.
// A block's k never exceeds 63+15 = 78, where both tables agree.
var zigzag128 = func() (t [128]uint8) {
	for i := range t {
		t[i] = 63
		if i < len(naturalOrder) {
			t[i] = uint8(naturalOrder[i])
		}
	}
	return t
}()

// decodeScans decodes the scan whose header readHeaders parsed, then every
// following scan, up to EOI.
func (d *decoder) decodeScans() error {
	d.multiScan = d.progressive || len(d.scanComps) < len(d.comps)
	out, err := d.newOutputter()
	if err != nil {
		return err
	}
	d.out = out
	planes, coefs := 0, 0
	for i := range d.comps {
		c := &d.comps[i]
		planes += c.bh*8*c.stride + planeSlack
		coefs += c.bh * c.bw * 64
	}
	pb := d.scratch.planeBuf(planes)
	var cb []int16
	if d.progressive {
		cb = d.scratch.coefBuf(coefs)
	}
	for i := range d.comps {
		c := &d.comps[i]
		n := c.bh*8*c.stride + planeSlack
		c.plane, pb = pb[:n:n], pb[n:]
		if d.progressive {
			n := c.bh * c.bw * 64
			c.coef, cb = cb[:n:n], cb[n:]
		} else if d.multiScan {
			// A component no scan covers decodes as all-zero coefficients.
			for j := range c.plane {
				c.plane[j] = 128
			}
		}
	}
	for {
		if err := d.decodeScan(); err != nil {
			return err
		}
		d.scanCount++
		for {
			m, ok := d.nextMarker()
			if !ok {
				if d.multiScan {
					return errf(ErrTruncated, "data ends after scan %d without EOI (multi-scan image)", d.scanCount)
				}
				return d.finish()
			}
			if m == mSOS && !d.multiScan {
				return errf(ErrFormat, "second SOS at byte %d in a single-scan image (EOI expected)", d.pos-2)
			}
			done, err := d.handleMarker(m, false)
			if err != nil {
				return err
			}
			if done {
				if m == mEOI {
					return d.finish()
				}
				break // next scan
			}
		}
	}
}

// finish runs the IDCT for coefficient-buffered (progressive) images.
func (d *decoder) finish() error {
	if !d.progressive {
		return nil
	}
	if d.blockSmoothingApplies() {
		return errf(ErrUnsupported, "progressive JPEG whose scans leave low-frequency AC coefficients unrefined: libjpeg's block smoothing is not implemented")
	}
	var blk [64]int16
	for i := range d.comps {
		c := &d.comps[i]
		bx, by := (c.dw+7)/8, (c.dh+7)/8
		for y := 0; y < by; y++ {
			for x := 0; x < bx; x++ {
				src := c.coef[(y*c.bw+x)*64:][:64]
				copy(blk[:], src)
				if d.countWide && wideBlock(&blk, &c.q) {
					d.wideBlocks++
				}
				idctBlock(&blk, &c.q, c.plane[y*8*c.stride+x*8:], c.stride)
			}
		}
	}
	return nil
}

// blockSmoothingApplies mirrors jdcoefct.c smoothing_ok (libjpeg-turbo 2.1).
func (d *decoder) blockSmoothingApplies() bool {
	useful := false
	for i := range d.comps {
		c := &d.comps[i]
		if !c.qSeen {
			return false
		}
		for _, p := range [...]int{0, 1, 8, 16, 9, 2, 3, 10, 17, 24} {
			if c.q[p] == 0 {
				return false
			}
		}
		if c.coefBits[0] < 0 {
			return false
		}
		for k := 1; k < 10; k++ {
			if c.coefBits[k] != 0 {
				useful = true
			}
		}
	}
	return useful
}

func (d *decoder) table(ac bool, id int) (*huffTable, error) {
	t := d.dc[id]
	if ac {
		t = d.ac[id]
	}
	if t != nil {
		return t, nil
	}
	if id > 1 {
		return nil, errf(ErrFormat, "scan %d uses undefined Huffman table %d", d.scanCount+1, id)
	}
	// libjpeg-turbo falls back to the standard (Annex K) tables (jstdhuff.c).
	t = stdTable(ac, id)
	if ac {
		d.ac[id] = t
	} else {
		d.dc[id] = t
	}
	return t, nil
}

// decodeScan decodes the entropy-coded data of the current scan, starting at
// d.pos, and leaves d.pos after the data (at the terminating marker).
func (d *decoder) decodeScan() error {
	for _, ci := range d.scanComps {
		c := &d.comps[ci]
		if !c.qSeen {
			if !d.qtDefined[c.tq] {
				return errf(ErrFormat, "component %d uses undefined quantization table %d", ci, c.tq)
			}
			for k := 0; k < 64; k++ {
				c.q[k] = int16(d.qt[c.tq][k])
			}
			c.qSeen = true
		}
		c.pred = 0
	}
	d.eobrun = 0
	br := &d.br
	br.badCodes = 0
	br.start(d.data, d.pos)
	var err error
	if d.progressive {
		err = d.decodeProgressive(br)
	} else {
		err = d.decodeSequential(br)
	}
	d.warnings += br.badCodes
	if err != nil {
		return err
	}
	d.pos = br.next
	if br.marker != 0 {
		d.pos -= 2 // back to the 0xFF, so nextMarker sees the marker again
	}
	return nil
}

// scanGeometry returns the MCU grid of the current scan and whether it is
// interleaved.
func (d *decoder) scanGeometry() (mx, my int) {
	if len(d.scanComps) == 1 {
		c := &d.comps[d.scanComps[0]]
		return (c.dw + 7) / 8, (c.dh + 7) / 8
	}
	return d.mcusX, d.mcusY
}

// restart processes a restart point (jdhuff.c process_restart and
// jdmarker.c read_restart_marker / jpeg_resync_to_restart). It returns
// whether the next interval has data.
func (d *decoder) restart(br *bitReader, nextRST *int) (bool, error) {
	m := br.marker
	d.pos = br.next
	if br.eof && br.consumedFake() {
		return false, errf(ErrTruncated, "entropy data of scan %d ends early", d.scanCount+1)
	}
	if m == 0 {
		var ok bool
		if m, ok = d.nextMarker(); !ok {
			return false, errf(ErrTruncated, "data ends inside scan %d (restart marker expected)", d.scanCount+1)
		}
	}
	want := *nextRST
	if m != byte(mRST0+want) {
		d.warnings++
	}
	for m != 0 && m != byte(mRST0+want) {
		action := 1
		switch {
		case m < mSOF0:
			action = 2
		case m < mRST0 || m > mRST7:
			action = 3
		case m == byte(mRST0+(want+1)&7) || m == byte(mRST0+(want+2)&7):
			action = 3
		case m == byte(mRST0+(want-1)&7) || m == byte(mRST0+(want-2)&7):
			action = 2
		}
		if action == 1 {
			m = 0
			break
		}
		if action == 3 {
			break
		}
		var ok bool
		if m, ok = d.nextMarker(); !ok {
			return false, errf(ErrTruncated, "data ends inside scan %d while resynchronizing to a restart marker", d.scanCount+1)
		}
	}
	if m == byte(mRST0+want) {
		m = 0
	}
	*nextRST = (want + 1) & 7
	if m == 0 {
		br.start(d.data, d.pos)
	} else {
		br.startEmpty(m, d.pos)
	}
	for _, ci := range d.scanComps {
		d.comps[ci].pred = 0
	}
	d.eobrun = 0
	return m == 0, nil
}

// addDC applies a DC difference with libjpeg-turbo's overflow check.
func addDC(pred *int32, diff int32) bool {
	p := *pred
	if (p >= 0 && diff > math.MaxInt32-p) || (p < 0 && diff < math.MinInt32-p) {
		return false
	}
	*pred = p + diff
	return true
}
