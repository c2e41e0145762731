"""Data for the RLHF notebook (Q4): a generated news corpus, a tokenizer, a hidden quality score and
a simulated human labeller. Given code: nothing to implement here.

Nothing here downloads anything. The offline corpus is generated from templates: every article
reports one event (who did what, where, when, and a number) wrapped in detail and distractor
sentences that mention other people, places and numbers, so a summariser has to pick the right
facts. Each article comes with a one-sentence reference summary, its key facts, and a *demonstration*
for supervised training that, half of the time, drags in an extra detail after the summary
(demonstrators are imperfect; the preferences of the same people favour the concise version).

Two scores, and who may see them:

* ``true_quality`` is the *hidden* score that stands in for what people actually want:
  ROUGE-L F1 against the reference (``rouge-score`` package) + a bonus per key fact present
  - a penalty per word beyond the reference length. The policy never sees it during training;
  the notebook only uses it to evaluate and to simulate labellers.
* ``preference_oracle`` simulates a labeller comparing two summaries of the same article: it
  prefers summary A with probability sigmoid((q_A - q_B) / temperature) (a Bradley-Terry model
  over the hidden quality), using a seeded ``torch.Generator``. The reward model learns only from
  these noisy binary labels, as in InstructGPT (Ouyang et al., 2022, Sec. 3.5).

Real data (optional): with ``HW12_REAL_DATA=1`` in the environment and the ``datasets`` package and
a local copy of CNN/DailyMail in the Hugging Face cache, ``load_corpus`` returns real articles
instead. The default is off, and the autograder never turns it on.

The JSON Schema of ``submission_log.json`` lives next to this file in ``rlhf_log_schema.json``;
``validate_log`` checks a log against it before you upload.
"""
from __future__ import annotations

import json
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from hw12.code_hash import file_sha256  # the notebook's name for the code hash

__all__ = [
    "IGNORE_INDEX", "USE_REAL_DATA", "QualityWeights", "make_corpus", "load_corpus", "train_tokenizer",
    "encode_articles", "encode_summaries", "decode", "rouge_l", "facts_present", "true_quality",
    "preference_oracle", "LOG_SCHEMA_PATH", "load_log_schema", "validate_log", "file_sha256",
]

#: Switch for the real-data path. Off unless HW12_REAL_DATA=1 is set before import.
USE_REAL_DATA = os.environ.get("HW12_REAL_DATA", "0") == "1"

#: Label id of the positions a loss ignores (padding after </s>), the transformers convention.
IGNORE_INDEX = -100

PAD, EOS, UNK, SEP = "<pad>", "</s>", "<unk>", "<sep>"
SPECIAL_TOKENS = [PAD, EOS, UNK, SEP]  # ids 0, 1, 2, 3 (T5 uses pad = 0 as the decoder start)

# ---------------------------------------------------------------------------------------------
# Template corpus
# ---------------------------------------------------------------------------------------------
_FIRST = ["anna", "ben", "carla", "david", "elena", "farid", "grace", "hugo", "irene", "jonas",
          "kira", "liam", "maya", "nils", "olga", "pedro", "rosa", "samir", "tara", "victor"]
_LAST = ["keller", "moreno", "okafor", "novak", "lindqvist", "tanaka", "haddad", "ferreira",
         "kowalski", "brennan", "petrov", "alvarez", "nakamura", "osei", "fischer", "duval",
         "mehta", "larsen", "costa", "wright"]
_ROLE = ["mayor", "minister", "coach", "chief executive", "professor", "governor", "director",
         "captain", "spokesperson", "judge"]
_CITY = ["lisbon", "oslo", "nairobi", "denver", "krakow", "osaka", "quito", "dublin", "tunis",
         "perth", "leeds", "hanoi", "bergen", "porto", "austin", "gdansk", "accra", "lyon",
         "sapporo", "valencia"]
_DAY = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_NUM = ["12", "18", "25", "30", "40", "45", "60", "75", "90", "120", "150", "200", "250", "300",
        "400", "500", "650", "800", "1000", "1500", "2000", "3000", "5000", "8000"]

# Each event: the summary frame and the article's lead/detail sentences. Slots: {who} is
# "<role> <first> <last>", {last} the surname, {city}, {day}, {num}.
_EVENTS = [
    dict(summary="{last} opens new hospital in {city} with {num} beds",
         lead="{who} opened a new hospital in {city} on {day} , adding {num} beds to the region .",
         details=["the building took three years to finish .",
                  "{last} said the hospital would serve families across the area .",
                  "doctors at the hospital will start seeing patients next week ."]),
    dict(summary="storm in {city} leaves {num} homes without power , {last} says",
         lead="a strong storm left {num} homes without power in {city} on {day} , {who} said .",
         details=["crews worked through the night to clear fallen trees .",
                  "{last} asked residents to stay indoors until the wind calms .",
                  "schools in the area will remain closed for the rest of the week ."]),
    dict(summary="{last} leads {city} team to win before {num} fans",
         lead="{who} led the {city} team to a win on {day} in front of {num} fans .",
         details=["the team scored twice in the final ten minutes .",
                  "{last} praised the players for their patience .",
                  "the result moves the club to the top of the table ."]),
    dict(summary="{city} council approves {num} new homes , {last} says",
         lead="the council in {city} approved plans for {num} new homes on {day} , {who} said .",
         details=["construction is expected to begin in the spring .",
                  "{last} said the homes would be affordable for young families .",
                  "some residents raised concerns about traffic ."]),
    dict(summary="{last} announces {num} new jobs at {city} factory",
         lead="{who} announced {num} new jobs at a factory in {city} on {day} .",
         details=["the factory makes parts for electric buses .",
                  "{last} said hiring would start next month .",
                  "local unions welcomed the news ."]),
    dict(summary="{num} runners join {city} marathon , {last} says",
         lead="{num} runners took part in the {city} marathon on {day} , according to {who} .",
         details=["the course passed the old harbour and the main square .",
                  "{last} thanked the volunteers who handed out water .",
                  "the winner finished in just over two hours ."]),
    dict(summary="{last} unveils {num} million plan for {city} schools",
         lead="{who} unveiled a {num} million plan to repair schools in {city} on {day} .",
         details=["the money will pay for new roofs and heating .",
                  "{last} said the work would start during the summer break .",
                  "teachers said the plan was long overdue ."]),
    dict(summary="flood in {city} forces {num} people from homes , {last} says",
         lead="heavy flooding forced {num} people from their homes in {city} on {day} , {who} said .",
         details=["the river rose faster than forecasters expected .",
                  "{last} said shelters had opened in two sports halls .",
                  "the water is expected to fall by the weekend ."]),
]

_DISTRACTORS = [
    "last year a similar event in {city2} drew {num2} people .",
    "{first2} {last2} , a local resident , said the mood in {city2} was calm .",
    "officials said more details would follow later in the week .",
    "the weather in the region was mild for the time of year .",
    "a separate report from {city2} counted {num2} visitors over the holiday .",
    "{first2} {last2} of {city2} university called the figures encouraging .",
    "traffic on the main road was slow for several hours .",
    "in {city2} , about {num2} people attended an unrelated concert .",
]


def _article(rng: random.Random) -> Dict[str, object]:
    ev = rng.choice(_EVENTS)
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    city, num, day = rng.choice(_CITY), rng.choice(_NUM), rng.choice(_DAY)
    # distractor slots always differ from the true facts
    city2 = rng.choice([c for c in _CITY if c != city])
    num2 = rng.choice([n for n in _NUM if n != num])
    first2 = rng.choice(_FIRST)
    last2 = rng.choice([s for s in _LAST if s != last])
    slots = dict(who=f"{rng.choice(_ROLE)} {first} {last}", last=last, city=city, day=day, num=num,
                 city2=city2, num2=num2, first2=first2, last2=last2)
    body = [s.format(**slots) for s in rng.sample(ev["details"], k=rng.randint(2, 3))]
    body += [s.format(**slots) for s in rng.sample(_DISTRACTORS, k=rng.randint(2, 3))]
    rng.shuffle(body)
    lead = ev["lead"].format(**slots)
    pos = 0 if rng.random() < 0.7 else 1  # the lead is usually, not always, first
    sentences = body[:pos] + [lead] + body[pos:]
    summary = ev["summary"].format(**slots)
    # The demonstrator is hurried: half of the time the written summary drags in one more detail.
    demo = summary
    if rng.random() < DEMO_TAIL_RATE:
        demo = f"{summary} ; {rng.choice(body).rstrip(' .')}"
    return dict(article=" ".join(sentences), summary=summary, demo=demo, facts=[last, city, num])


DEMO_TAIL_RATE = 0.5


def make_corpus(n: int, seed: int = 0) -> List[Dict[str, object]]:
    """n generated articles, each a dict with
    "article" (str), "summary" (the concise reference the hidden quality compares with),
    "demo" (the demonstration used for SFT: the reference, or with probability DEMO_TAIL_RATE the
    reference followed by " ; " and one more sentence of the article: demonstrations are imperfect,
    as real ones are) and "facts" (key-fact words: surname, city, number).
    Same seed -> same corpus."""
    rng = random.Random(seed)
    return [_article(rng) for _ in range(n)]


def load_corpus(n: int, seed: int = 0, split: str = "train") -> List[Dict[str, object]]:
    """The generated corpus, or with USE_REAL_DATA real CNN/DailyMail articles (never downloads:
    the dataset must already be in the local Hugging Face cache)."""
    if not USE_REAL_DATA:
        return make_corpus(n, seed)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from datasets import load_dataset  # optional dependency, only on the real-data path

    ds = load_dataset("cnn_dailymail", "3.0.0", split=split).shuffle(seed=seed).select(range(n))
    return [dict(article=r["article"].lower(), summary=r["highlights"].lower(),
                 demo=r["highlights"].lower(), facts=[]) for r in ds]


# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------
def train_tokenizer(texts: Sequence[str]):
    """A word-level tokenizer (lower-cased, split on whitespace and punctuation) trained with the
    ``tokenizers`` library and wrapped as a ``transformers.PreTrainedTokenizerFast``.
    Special tokens: <pad> = 0, </s> = 1, <unk> = 2, <sep> = 3."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS))
    tok.post_processor = processors.TemplateProcessing(single=f"$A {EOS}",
                                                       special_tokens=[(EOS, 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS,
                                   unk_token=UNK, sep_token=SEP)


def encode_articles(tokenizer, articles: Sequence[str], max_len: int = 96):
    """Articles -> (input_ids (N, S) long, attention_mask (N, S) long), S <= max_len, </s>-ended."""
    enc = tokenizer(list(articles), padding=True, truncation=True, max_length=max_len,
                    return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def encode_summaries(tokenizer, summaries: Sequence[str], max_len: int = 32):
    """Summaries -> labels (N, T) long with </s> at the end and -100 at padding positions."""
    enc = tokenizer(list(summaries), padding=True, truncation=True, max_length=max_len,
                    return_tensors="pt")
    return enc["input_ids"].masked_fill(enc["attention_mask"] == 0, IGNORE_INDEX)


def decode(tokenizer, ids: torch.Tensor) -> List[str]:
    """Token ids (N, T) -> strings, stopping at the first </s>; -100 and <pad> are dropped."""
    out = []
    for row in ids.tolist():
        words = []
        for i in row:
            if i == 1:  # </s>
                break
            if i >= 0 and i != 0:
                words.append(i)
        out.append(tokenizer.decode(words, skip_special_tokens=True))
    return out


# ---------------------------------------------------------------------------------------------
# Hidden quality and the simulated labeller
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QualityWeights:
    """Weights of the hidden quality score."""

    fact_bonus: float = 0.5      # added per summary, times the fraction of key facts present
    length_penalty: float = 0.04  # subtracted per word beyond the reference's length
    length_slack: int = 2        # words allowed beyond the reference before the penalty starts


_SCORER = None


def rouge_l(summary: str, reference: str) -> float:
    """ROUGE-L F1 of a summary against its reference (``rouge-score``, no stemming)."""
    global _SCORER
    if _SCORER is None:
        from rouge_score import rouge_scorer

        _SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return float(_SCORER.score(reference, summary)["rougeL"].fmeasure)


def facts_present(summary: str, facts: Sequence[str]) -> float:
    """Fraction of the key facts that appear as whole words in the summary (1.0 if no facts)."""
    if not facts:
        return 1.0
    words = set(summary.lower().split())
    return sum(f in words for f in facts) / len(facts)


def true_quality(summary: str, reference: str, facts: Sequence[str],
                 weights: QualityWeights = QualityWeights()) -> float:
    """Hidden quality: ROUGE-L F1 + fact_bonus * facts_present - length_penalty * excess words."""
    excess = max(0, len(summary.split()) - len(reference.split()) - weights.length_slack)
    return (rouge_l(summary, reference) + weights.fact_bonus * facts_present(summary, facts)
            - weights.length_penalty * excess)


def preference_oracle(quality_a: torch.Tensor, quality_b: torch.Tensor, temperature: float = 0.1,
                      generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Simulated labeller. quality_a, quality_b: (N,) hidden qualities of two summaries of the same
    articles. Returns (N,) bool: True where A is preferred, drawn with probability
    sigmoid((q_A - q_B) / temperature) (Bradley-Terry). Seed it with ``generator``."""
    qa = torch.as_tensor(quality_a, dtype=torch.float64)
    qb = torch.as_tensor(quality_b, dtype=torch.float64)
    p = torch.sigmoid((qa - qb) / temperature)
    u = torch.rand(p.shape, generator=generator, dtype=torch.float64)
    return u < p


# ---------------------------------------------------------------------------------------------
# submission_log.json
# ---------------------------------------------------------------------------------------------
LOG_SCHEMA_PATH = Path(__file__).with_name("rlhf_log_schema.json")


def load_log_schema() -> dict:
    """The JSON Schema (draft 2020-12) of submission_log.json."""
    return json.loads(LOG_SCHEMA_PATH.read_text())




def validate_log(log: dict) -> None:
    """Raise ``ValueError`` naming the first problem if ``log`` does not follow the schema or holds
    a non-finite number."""
    import jsonschema

    try:
        jsonschema.validate(log, load_log_schema())
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        raise ValueError(f"submission_log.json does not follow the schema at {where}: "
                         f"{e.message}") from None

    def walk(x, where):
        if isinstance(x, float) and not math.isfinite(x):
            raise ValueError(f"submission_log.json has a non-finite number at {where}")
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{where}/{k}")
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{where}/{i}")

    walk(log, "")
