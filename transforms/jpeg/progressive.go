package jpeg

// Progressive scans (jdphuff.c): DC first/refine (possibly interleaved),
// AC first/refine (one component), successive approximation, EOB runs.
// Coefficients accumulate in each component's coef buffer; the IDCT runs
// once after the last scan (decoder.finish).

func (d *decoder) decodeProgressive(br *bitReader) error {
	isDC := d.ss == 0
	bad := false
	if isDC {
		bad = d.se != 0
	} else {
		bad = d.ss > d.se || d.se >= 64 || len(d.scanComps) != 1
	}
	if d.ah != 0 && d.al != d.ah-1 {
		bad = true
	}
	if d.al > 13 {
		bad = true
	}
	if bad {
		return errf(ErrFormat, "scan %d: invalid progressive parameters Ss=%d Se=%d Ah=%d Al=%d", d.scanCount+1, d.ss, d.se, d.ah, d.al)
	}
	for _, ci := range d.scanComps {
		c := &d.comps[ci]
		for k := d.ss; k <= d.se && k < len(c.coefBits); k++ {
			c.coefBits[k] = d.al
		}
	}
	var tabs [4]*huffTable
	for i, ci := range d.scanComps {
		c := &d.comps[ci]
		var err error
		if isDC && d.ah == 0 {
			tabs[i], err = d.table(false, c.dcTbl)
		} else if !isDC {
			tabs[i], err = d.table(true, c.acTbl)
		}
		if err != nil {
			return err
		}
	}
	n := len(d.scanComps)
	mx, my := d.scanGeometry()
	restartsToGo := d.restartInterval
	nextRST := 0
	hasData := true
	for y := 0; y < my; y++ {
		for x := 0; x < mx; x++ {
			if d.restartInterval > 0 {
				if restartsToGo == 0 {
					ok, err := d.restart(br, &nextRST)
					if err != nil {
						return err
					}
					hasData = ok
					restartsToGo = d.restartInterval
				}
				restartsToGo--
			}
			if !hasData {
				continue
			}
			for i := 0; i < n; i++ {
				c := &d.comps[d.scanComps[i]]
				bh, bv := c.h, c.v
				if n == 1 {
					bh, bv = 1, 1
				}
				for v := 0; v < bv; v++ {
					for h := 0; h < bh; h++ {
						bx, by := x*bh+h, y*bv+v
						blk := (*[64]int16)(c.coef[(by*c.bw+bx)*64:][:64])
						switch {
						case isDC && d.ah == 0:
							s := br.decode(tabs[i])
							var diff int32
							if s != 0 {
								diff = br.receiveExtend(uint(s))
							}
							if !addDC(&c.pred, diff) {
								return errf(ErrFormat, "scan %d: DC coefficient overflow at block (%d,%d)", d.scanCount+1, bx, by)
							}
							blk[0] = int16(c.pred << d.al)
						case isDC:
							if br.bit() {
								blk[0] |= int16(1 << d.al)
							}
						case d.ah == 0:
							d.acFirst(br, blk, tabs[i])
						default:
							d.acRefine(br, blk, tabs[i])
						}
					}
				}
			}
			if br.consumedFake() {
				if br.eof {
					return errf(ErrTruncated, "entropy data of scan %d ends early (MCU %d of %d)", d.scanCount+1, y*mx+x+1, mx*my)
				}
				hasData = false
				d.warnings++
			}
		}
	}
	if br.eof {
		// Pillow's libjpeg suspends when it must read past the end of the
		// data, and Pillow then reports a truncated file.
		return errf(ErrTruncated, "data ends inside scan %d (no marker after the entropy data)", d.scanCount+1)
	}
	return nil
}

func (d *decoder) acFirst(br *bitReader, blk *[64]int16, t *huffTable) {
	if d.eobrun > 0 {
		d.eobrun--
		return
	}
	for k := d.ss; k <= d.se; k++ {
		s := br.decode(t)
		r, sz := int(s>>4), uint(s&15)
		if sz != 0 {
			k += r
			v := br.receiveExtend(sz)
			blk[naturalOrder[k]] = int16(v << d.al)
			continue
		}
		if r == 15 {
			k += 15
			continue
		}
		d.eobrun = 1 << r
		if r != 0 {
			d.eobrun += int(br.bits(uint(r)))
		}
		d.eobrun--
		break
	}
}

func (d *decoder) acRefine(br *bitReader, blk *[64]int16, t *huffTable) {
	p1 := int16(1 << d.al)
	m1 := int16(-1 << d.al)
	k := d.ss
	refine := func(z int) {
		if br.bit() && blk[z]&p1 == 0 {
			if blk[z] >= 0 {
				blk[z] += p1
			} else {
				blk[z] += m1
			}
		}
	}
	if d.eobrun == 0 {
		for ; k <= d.se; k++ {
			s := br.decode(t)
			r, sz := int(s>>4), s&15
			var val int16
			if sz != 0 {
				// The size should be 1 (libjpeg warns otherwise); only the sign bit follows.
				if br.bit() {
					val = p1
				} else {
					val = m1
				}
			} else if r != 15 {
				d.eobrun = 1 << r
				if r != 0 {
					d.eobrun += int(br.bits(uint(r)))
				}
				break
			}
			for k <= d.se {
				z := naturalOrder[k]
				if blk[z] != 0 {
					refine(z)
				} else {
					r--
					if r < 0 {
						break
					}
				}
				k++
			}
			if sz != 0 {
				blk[naturalOrder[k]] = val
			}
		}
	}
	if d.eobrun > 0 {
		for ; k <= d.se; k++ {
			z := naturalOrder[k]
			if blk[z] != 0 {
				refine(z)
			}
		}
		d.eobrun--
	}
}
