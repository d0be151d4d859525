"""Japanese text to retrieval features: NFKC, domain synonyms, Sudachi words and reading bigrams.

Why readings: a user who types ひらがな (ぼしゅうようこう) must still find 募集要項, so every text
also yields bigrams of its katakana reading, which match whatever script the user typed.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from sudachipy import Dictionary, SplitMode

from knowledge.schema import SynonymGroup

# Parts of speech that carry no topic (particles, auxiliaries, symbols, blanks).
_SKIP_POS = {"助詞", "助動詞", "補助記号", "空白", "記号"}
# Frequent words of question phrasing that say nothing about what is asked.
_STOP_WORDS = {
    "する", "ある", "いる", "なる", "できる", "出来る", "教える", "下さる", "くださる", "思う", "知る", "言う",
    "いう", "ない", "良い", "いい", "よい", "何", "なに", "こと", "もの", "よう", "ため", "とき", "方", "ほう",
    "これ", "それ", "あれ", "どれ", "ここ", "そこ", "私", "わたし", "うち", "おる", "頂く", "いただく",
    "お願い", "願う", "ください", "ちょっと", "について", "関する", "場合", "どう", "どの", "どんな",
    "the", "a", "an", "is", "are", "do", "does", "can", "i", "we", "you", "of", "to", "for", "in",
    # Sudachi's normalized forms of the same fillers (なる -> 成る, する -> 為る, …).
    "成る", "為る", "有る", "居る", "貰える", "貰う", "呉れる", "頂ける", "出る", "致す", "御座る", "構う", "分かる",
    # Everyday words of asking that say nothing about the topic.
    "私達", "達", "感じ", "話", "既に", "全部", "可能", "可能性", "今迄", "迄", "まで", "から", "御", "さん", "他",
    "何故", "なぜ", "所", "ところ", "簡単", "遣る", "やる", "有り", "あり", "一緒", "幾つ", "積もり", "様", "位",
    "くらい", "ぐらい", "等", "など", "又", "また", "色々", "いろいろ", "本当", "ほんと", "大丈夫", "詳しい",
    "自分", "皆", "皆さん", "辺", "辺り", "感じる", "聞く", "見る", "付く", "就く", "つく", "説明",
    "化する", "without", "new",
    "can you", "explain", "this", "these", "that", "those", "with", "should", "would", "could", "will", "go",
    "did", "say", "said", "any", "which", "who", "why", "have", "has", "had", "get", "know", "want", "need",
    "there", "here", "from", "by", "at", "as", "if", "so", "was", "were", "been", "your", "us", "they", "them",
    "on", "what", "how", "about", "please", "tell", "me", "my", "our", "be", "and", "or",
    # Polite business Japanese around a question (ご教示ください, 拝見しました, 耳にしました, 当町では):
    # long questions from municipal staff are full of it, and none of it names a topic.
    "教示", "拝見", "改めて", "態々", "伺う", "存じる", "考える", "把握", "耳", "是非", "念", "承知", "御存知",
    "幸甚", "差し支える", "参考", "尋ねる", "欲しい", "確認", "記憶", "関心", "質問", "見込み", "気",
    "当市", "当町", "当村", "当区", "当県", "当社", "当所", "当方", "弊社", "弊市", "当", "弊",
    "どのような", "どういう", "如何", "整理", "受ける", "何度", "来週", "今週", "先週", "先日", "一通り", "ざっくり",
    "具体的", "改める",
    # English function words and fillers of asking (the English-speaking user's 教えて and ですか).
    "also", "used", "use", "later", "still", "yet", "not", "no", "too", "like", "being", "itself",
    "some", "many", "much", "more", "most", "very", "just", "only", "their", "than", "then", "into", "out",
    "up", "else", "such", "each", "every", "all", "both", "either", "am", "doing", "done", "make", "made",
    "give", "given", "got", "let", "look", "see", "seem", "way", "thing", "things", "really", "actually",
    "exactly", "anything", "something", "someone", "anyone", "kind", "sort", "one", "ones", "whether",
    "where", "might", "may", "shall", "we're", "i'm", "it's", "there's", "wonder", "wondering",
    "curious", "understand", "find", "sure", "hi", "hello", "thanks", "thank", "question", "questions",
    "allowed", "allow", "permitted", "able", "hope", "hoping", "trying", "try", "getting", "gets", "now",
    "work", "working", "receive", "received", "consider", "considering", "become", "available", "useful",
    "hear", "heard", "prepare", "preparing", "wants", "wanted", "clarify", "kinds", "good", "afternoon",
    "morning", "evening", "earlier", "help", "anyway", "regarding", "concerning", "currently",
    "済み", "済む",  # 選定済み, 取得済み: a suffix, not a topic
    "で",  # after a round name, which normalize() spaces off, Sudachi reads で as a word
}
_READING_WEIGHT = 0.3
# A word typed in hiragana only is often a kanji word spelled out (こうせつし): its reading
# bigrams carry the match, so the odd word itself weighs little.
_KANA_WORD_WEIGHT = 0.3
_PART_WEIGHT = 0.5
_LONG_VOWEL_END = re.compile(r"(?<=[\u30a1-\u30fa])ー(?![\u30a1-\u30fa])")
_HIRAGANA = re.compile(r"^[\u3041-\u309fー]+$")
_SPACE = re.compile(r"\s+")
_KATAKANA = re.compile(r"^[\u30a1-\u30fcー]+$")
# A funding program's name (IT導入補助金, 小規模事業者持続化補助金) is one more word: Sudachi splits it into
# words the base knows (導入, 補助金), so a question about a subsidy the base never names would look
# covered; as a whole it is known only if an entry names it. In English: capitalised words before Subsidy/Grant.
_FUND_NAME = re.compile(r"[0-9a-z\u30a1-\u30fc\u4e00-\u9fff・]{2,}(?:補助金|交付金|助成金|給付金)")
_FUND_NAME_EN = re.compile(r"(?:[A-Z][\w-]*\s+){1,5}(?:[Ss]ubsid(?:y|ies)|[Gg]rants?)\b")
# A sentence that states (「人口3万人の町です」「空き店舗が増えています」) rather than asks: the situation
# around a question (rules.split_focus keeps it apart). Its compounds (産業振興課, 事業承継) describe the asker, not
# what is asked about, so they do not make a question look out of scope.
_SENTENCE = re.compile(r"[^。!?!?\n]+[。!?!?\n]*")
_STATEMENT = re.compile(r"(?:です|ます|でした|ました|おります|います|いる|である)[。!!\n]*$")
_ASKING = re.compile(r"[??]|たい|ほしい|欲しい|教え|教示|お願い|ください|下さい|か[。!!\n]*$")
# Parts of speech a compound noun is made of (人口 3万 人, IT パスポート, 地域 情報化 アドバイザー 派遣 制度).
_COMPOUND_POS = {"名詞", "接尾辞", "接頭辞"}


@dataclass(frozen=True)
class Compound:
    """A run of two or more nouns (IT導入補助金 as it, 導入, 補助金), and whether it sits in a sentence
    that states the asker's situation rather than asks."""

    words: tuple[str, ...]
    stated: bool


class _Spans:
    """Character offsets covered by some spans, answered without building a set of every offset."""

    def __init__(self, spans: list[tuple[int, int]]):
        self.spans = spans

    def __contains__(self, offset: int) -> bool:
        return any(a <= offset < b for a, b in self.spans)


def _statements(text: str) -> _Spans:
    return _Spans([m.span() for m in _SENTENCE.finditer(text)
                   if _STATEMENT.search(m.group(0)) and not _ASKING.search(m.group(0))])


def _head_noun(pos: tuple[str, ...], surface: str) -> bool:
    """A noun that makes a run of nouns a compound: not a numeral, counter, time word (来月, 通常),
    affix or single character (主, 欄), so that 30代, 年1回, 来月予定, IT系 and 主目的 are no compounds."""
    return pos[0] == "名詞" and pos[1] != "数詞" and pos[2] not in ("助数詞可能", "副詞可能") and len(surface) > 1


@cache
def _dictionary() -> Dictionary:
    # The bundled sudachidict_core: nothing is downloaded at run time.
    return Dictionary(dict="core")


_per_thread = threading.local()


def _tokenizer():  # type: ignore[no-untyped-def]
    # One tokenizer per thread: SudachiPy refuses concurrent use of one, and a reload builds the
    # new index on a worker thread while the serving one answers. `tokenizer()` replaced
    # `create()` in SudachiPy 0.7; older releases only have the latter.
    tok = getattr(_per_thread, "tokenizer", None)
    if tok is None:
        make = getattr(_dictionary(), "tokenizer", None) or _dictionary().create
        tok = _per_thread.tokenizer = make(mode=SplitMode.C)
    return tok


def normalize(text: str) -> str:
    """NFKC (half-width kana, full-width digits and letters), lower-case, single spaces, and
    one spelling for the call's rounds (see _round)."""
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()
    return _ROUND.sub(_round, text)


_KANJI_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


@dataclass(frozen=True)
class Rounds:
    """The call's rounds (knowledge/rounds.yaml): number -> name, which are closed, the later name."""

    names: dict[int, str]
    closed: frozenset[str]
    later: str


@cache
def rounds() -> Rounds:
    path = Path(str(resources.files("knowledge").joinpath("rounds.yaml")))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = {int(r["number"]): str(r["name"]) for r in data["rounds"]}
    closed = frozenset(str(r["name"]) for r in data["rounds"] if r.get("closed"))
    return Rounds(names, closed, str(data["later"]))
_ROUND = re.compile(r"第\s*([0-9]{1,2}|[一二三四五六七八九十]{1,2})\s*(?:弾|回(?:目)?の?公募|次公募)")


@cache
def _round_names() -> re.Pattern[str]:
    known = rounds()
    return re.compile(trie_pattern([*known.names.values(), known.later]))


def _round(match: re.Match[str]) -> str:
    # 第3弾, 第三弾 and 第3回公募 are one round; any round after the fourth is one "later round",
    # so that a question about round 5 meets the entry saying it is not public yet, and never
    # the answer about round 3 that merely shares the words 第, 弾 and a digit.
    raw = match.group(1)
    number = int(raw) if raw.isdigit() else sum(_KANJI_DIGITS[c] for c in raw)
    known = rounds()
    return f" {known.names.get(number, known.later)} "


def trie_pattern(words: Iterable[str]) -> str:
    """One regex for many literal words, shaped as a trie so that matching does not try every
    word in turn (a flat alternation of a thousand words is the slow part of a short question).
    Longer continuations come before a word's end, so the longest word at a position wins."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if "" in node:
            branches.append("")
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    return build(trie)


@dataclass(frozen=True)
class SynonymMap:
    """Longest-first replacement of user variants by the canonical term, on normalized text."""

    pattern: re.Pattern[str] | None
    canonical: dict[str, str]

    @classmethod
    def build(cls, groups: Iterable[SynonymGroup]) -> SynonymMap:
        canonical: dict[str, str] = {}
        for group in groups:
            target = normalize(group.canonical)
            # The canonical term maps to itself, so that as the longest match it shields its own
            # inner words (ラボ inside 地方版IoT推進ラボ) from other groups' shorter variants.
            for variant in (group.canonical, *group.variants):
                key = normalize(variant)
                if key:
                    canonical.setdefault(key, target)
        if not canonical:
            return cls(pattern=None, canonical={})
        return cls(pattern=re.compile(trie_pattern(canonical)), canonical=canonical)

    def apply(self, text: str) -> str:
        if self.pattern is None:
            return text

        def replace(m: re.Match[str]) -> str:
            found = m.group(0)
            # ASCII variants must be whole words ("ipa" must not fire inside "ipad").
            if found.isascii() and found[:1].isalnum() and (
                    (m.start() > 0 and text[m.start() - 1].isascii() and text[m.start() - 1].isalnum())
                    or (m.end() < len(text) and text[m.end()].isascii() and text[m.end()].isalnum())):
                return found
            target = self.canonical[found]
            # The canonical term as written is left in place: spaces around it would split the
            # compounds it sits in (電話 in 携帯電話番号), which Sudachi reads better whole.
            return found if found == target else f" {target} "

        return self.pattern.sub(replace, text)


def _to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


class Analyzer:
    """Turns text into weighted features: `w:` words (normalized forms) and `r:` reading bigrams."""

    def __init__(self, synonyms: SynonymMap):
        self.synonyms = synonyms

    def reading(self, text: str, keep_long_vowels: bool = False) -> str:
        """The katakana reading of `text` as written (no synonym mapping)."""
        return self._analyse(text, synonyms=False, keep_long_vowels=keep_long_vowels)[1]

    def words(self, text: str) -> list[str]:
        """Content words of `text` in their dictionary (normalized) form."""
        return [w for w, weight in self._analyse(text)[0] if weight == 1.0]

    def _analyse(self, text: str, synonyms: bool = True, keep_long_vowels: bool = False
                 ) -> tuple[list[tuple[str, float]], str, list[Compound]]:
        text = normalize(text)
        if synonyms:
            text = self.synonyms.apply(text)
        # A round's name is one word: Sudachi splits 第二弾 into 第 + 2 + 弾, where only the digit
        # tells the second round from the fourth, and it weighs little.
        found = list(_round_names().finditer(text))
        words: list[tuple[str, float]] = [(m.group(0), 1.0) for m in found]
        inside = {i for m in found for i in range(m.start(), m.end())}
        reading: list[str] = []
        runs: list[Compound] = []
        run: list[str] = []
        nouns = start = 0  # in the run: content nouns (see _head_noun); where it starts
        stated = _statements(text)
        for morpheme in _tokenizer().tokenize(text):
            pos = morpheme.part_of_speech()
            skipped = pos[0] in _SKIP_POS or morpheme.begin() in inside
            noun = _word(morpheme) if pos[0] in _COMPOUND_POS and not skipped else ""
            # A run of nouns is one compound; anything else (a particle, a stop word, a space) ends it.
            if noun and noun not in _STOP_WORDS:
                if not run:
                    start = morpheme.begin()
                run.append(noun)
                nouns += _head_noun(pos, morpheme.surface())
            else:
                if nouns > 1:
                    runs.append(Compound(tuple(run), start in stated))
                run, nouns = [], 0
            if skipped:
                continue
            surface = morpheme.surface()
            if surface.isascii() and " " in surface.strip():
                # Sudachi knows a few English phrases as one word (could you, good afternoon):
                # their words are read one by one, so that the stop words apply.
                words.extend((w, 1.0) for w in map(_ascii_word, surface.split()) if w not in _STOP_WORDS)
                continue
            word = noun or _word(morpheme)
            if not word or word in _STOP_WORDS:
                continue
            words.append((word, _KANA_WORD_WEIGHT if _HIRAGANA.match(word) else 1.0))
            # A compound (申込期限) also yields its short units (申込, 期限): the long unit keeps
            # precision, the short ones let 期限 alone still find it.
            # A unit of one or two characters almost never has a part of two (2 of 2,826 texts in the
            # base and eval sets): not worth a call on every answer's path.
            parts = morpheme.split(SplitMode.A) if len(surface) > 2 else ()
            if len(parts) > 1:  # single characters (家, 性, 御) say too little on their own
                words.extend((w, _PART_WEIGHT) for w in map(_word, parts)
                             if len(w) > 1 and w not in _STOP_WORDS)
            if not surface.isascii():
                form = morpheme.reading_form()
                reading.append(form if _KATAKANA.match(form) else _to_katakana(surface))
        if nouns > 1:
            runs.append(Compound(tuple(run), start in stated))
        joined = "".join(reading)
        return words, joined if keep_long_vowels else _strip_long_vowels(joined), runs

    def features(self, text: str) -> Counter[str]:
        return self.analysis(text)[0]

    def analysis(self, text: str) -> tuple[Counter[str], list[Compound]]:
        """The features of `text`, and its compound nouns (runs of two or more nouns, as words)."""
        words, reading, runs = self._analyse(text)
        feats: Counter[str] = Counter()
        for word, weight in words:
            feats[f"w:{word}"] += weight
        names = [*_FUND_NAME.findall(normalize(text)), *_FUND_NAME_EN.findall(unicodedata.normalize("NFKC", text))]
        for name in names:
            feats[f"w:{name.lower()}"] += 1.0
        for i in range(len(reading) - 1):
            feats[f"r:{reading[i:i + 2]}"] += _READING_WEIGHT
        return feats, runs


def _strip_long_vowels(text: str) -> str:
    # コーディネーター and コーディネータ are one word spelled two ways; so is サーバー/サーバ.
    return _LONG_VOWEL_END.sub("", text)


_ENGLISH_SUFFIXES = ("ations", "ation", "ions", "ion", "ings", "ing", "ies", "ed", "es", "s")


def english_stem(word: str) -> str:
    """A crude suffix stripper (evaluated, evaluation -> evaluat): enough for short questions."""
    for suffix in _ENGLISH_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _ascii_word(surface: str) -> str:
    word = surface.strip().lower()
    return english_stem(word) if word.isalpha() and word not in _STOP_WORDS else word


def _word(morpheme) -> str:  # type: ignore[no-untyped-def]
    surface = morpheme.surface()
    if surface.isascii():
        return _ascii_word(surface)
    word = morpheme.normalized_form().lower()
    return _strip_long_vowels(word) if _KATAKANA.match(word) else word


_KANA = "\u3041-\u309f\u30a1-\u30fcー"  # hiragana and katakana, the long vowel mark included
_KANA_RUN = re.compile(f"[{_KANA}]{{3,}}")
_KANJI = re.compile(r"[\u4e00-\u9fff]")
MIN_READING = 4


class KanaSpellings:
    """Finds known words spelled out in kana (こうせつし -> 公設試, でじたる -> デジタル) in a question.

    Readings are matched with long vowels kept, so that katakana and hiragana line up one
    character for one and the kana can be replaced in place.

    The morphological analyser cannot do this itself: it splits an unfamiliar kana run into
    whatever real words it can (こう + 切 + し). Matching the run against the readings of the
    index's own vocabulary (and of the synonym variants) recovers the word the user meant.
    """

    def __init__(self, analyzer: Analyzer, spellings: Iterable[str]):
        readings: dict[str, str] = {}
        whole: dict[str, str] = {}
        for spelling in spellings:
            reading = _spelled_letters(spelling) if spelling.isascii() else ""
            if not reading and (_KANJI.search(spelling) or _KATAKANA.match(spelling)):
                reading = analyzer.reading(spelling, keep_long_vowels=True)
            if len(reading) >= 2:
                whole.setdefault(reading, spelling)
            # Inside a run: kanji words of two or more characters, or katakana words of four or
            # more; shorter ones (集, コード) hide inside unrelated kana runs.
            if (len(_KANJI.findall(spelling)) >= 2 or (_KATAKANA.match(spelling) and len(spelling) >= 4)) \
                    and len(reading) >= MIN_READING:
                readings.setdefault(reading, spelling)
        self.spellings = readings
        # A word typed alone between spaces (しんさの かんてん, でぃーえっくす) is matched whole, short
        # ones and acronyms included: there it cannot be a piece of another word.
        self.whole = whole
        self.pattern = re.compile(trie_pattern(readings)) if readings else None

    def rewrite(self, text: str) -> str:
        """`text` with known words written in kana replaced by their usual spelling."""
        if self.pattern is None:
            return text
        text = " ".join(self._whole_word(token) for token in normalize(text).split(" "))

        def replace_run(run: re.Match[str]) -> str:
            original = run.group(0)
            out, last = [], 0
            # Matched on katakana, spliced into the original: the conversion is one character
            # for one, so the offsets agree and the unmatched kana stays as typed.
            for m in self.pattern.finditer(_to_katakana(original)):
                out += [original[last:m.start()], f" {self.spellings[m.group(0)]} "]
                last = m.end()
            return "".join(out) + original[last:]

        return _KANA_RUN.sub(replace_run, text)

    def _whole_word(self, token: str) -> str:
        """A space-delimited kana token that is a known word's reading, a particle after it allowed."""
        if not _KANA_ONLY.match(token):
            return token
        stem = _PARTICLE.sub("", token) or token
        for candidate in (token, stem):
            spelling = self.whole.get(_to_katakana(candidate))
            if spelling is not None:
                return f"{spelling}{token[len(candidate):]}"
        return token


_KANA_ONLY = re.compile(f"^[{_KANA}]{{2,}}$")
_PARTICLE = re.compile(r"(?:って|では|には|とは|から|まで|の|を|が|は|に|で|と|も|へ|や)$")
# How letters are read out in katakana, so that でぃーえっくす finds DX and あいおーてぃー IoT.
_LETTER_READINGS = dict(zip("abcdefghijklmnopqrstuvwxyz", [
    "エー", "ビー", "シー", "ディー", "イー", "エフ", "ジー", "エイチ", "アイ", "ジェー", "ケー", "エル", "エム",
    "エヌ", "オー", "ピー", "キュー", "アール", "エス", "ティー", "ユー", "ブイ", "ダブリュー", "エックス", "ワイ",
    "ゼット"], strict=True))


def _spelled_letters(word: str) -> str:
    """An acronym's reading letter by letter (dx -> ディーエックス); empty for anything else."""
    word = word.lower()
    if not (2 <= len(word) <= 5 and word.isalpha()):
        return ""
    return "".join(_LETTER_READINGS[c] for c in word)
