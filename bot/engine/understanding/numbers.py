"""Numbers written in words, made digits: libraries per script, small tables beside."""

from __future__ import annotations

import re
import unicodedata
import warnings

import cn2an
from number_parser import parse as parse_words
from pyarabic import number as arabic_number

_CHINESE_NUMERAL = re.compile(r"[零〇一二两兩三四五六七八九十百千点點廿卅卌]")
_WORD_LANGS = {"en": "en", "es": "es", "ru": "ru"}
_POINT = re.compile(r"(\d+)\s+(?:point|dot|punto|coma|запятая|точка)\s+(\d+)\b")
_ARABIC_WORD = re.compile(r"[\u0621-\u064a]")
_ARABIC_AND = re.compile(r"(?<=\s)و\s+")
_ARABIC_HUNDRED = re.compile(r"\b(?:مية|ميه|ميت)\b")
_ARABIC_FOUR = re.compile(r"(?<![\u0621-\u064a])(و?)اربع")
_LATIN_OR_CYRILLIC_WORD = re.compile(r"[a-zа-яё]", re.IGNORECASE)
#: "метр восемьдесят", "metro setenta", "متر وسبعين": a metre said without "one".
_LONE_METRE = re.compile(r"^(метр|metro|متر)\s+(?:و\s*)?(?=\d)")
#: "ثمانية ونص", "eight and a half", "ocho y medio", "восемь с половиной": n.5.
_HALF = re.compile(r"(\d+)\s*(?:و\s*نص|و\s*نصف|and a half|y medio|y media|с половиной)(?![\w])")


#: Round numbers in everyday slang that the libraries do not know.
_SLANG = {"полтинник": "50", "полтос": "50", "сороковник": "40", "тридцатник": "30"}
_SLANG_WORD = re.compile("|".join(_SLANG))


def to_digits(text: str, lang: str) -> str:
    """``text`` with number words made digits ("forty-five" -> "45", "四十五" -> "45")."""
    text = _SLANG_WORD.sub(lambda m: _SLANG[m.group()], unicodedata.normalize("NFKC", text))
    if _CHINESE_NUMERAL.search(text):
        text = _chinese(text)
    if _LATIN_OR_CYRILLIC_WORD.search(text):
        for language in dict.fromkeys((_WORD_LANGS.get(lang, "en"), "en")):
            text = parse_words(text, language=language)
        text = _POINT.sub(r"\1.\2", text)
    text = _HALF.sub(r"\1.5", text)
    return _LONE_METRE.sub(r"1 \1 ", text.strip())


def arabic_to_digits(text: str) -> str:
    """Arabic number words made digits; run on the text as typed (before folding)."""
    text = unicodedata.normalize("NFKC", text)
    return _arabic(text) if _ARABIC_WORD.search(text) else text


def _chinese(text: str) -> str:
    """Chinese numerals made digits by cn2an ("百分之八点一" -> "8.1%")."""
    text = text.replace("點", "点").replace("兩", "两")
    text = text.replace("廿", "二十").replace("卅", "三十").replace("卌", "四十")
    try:
        with warnings.catch_warnings():  # cn2an warns about a range ("四五十") it leaves as is
            warnings.simplefilter("ignore", UserWarning)
            return str(cn2an.transform(text, "cn2an"))
    except (ValueError, KeyError, IndexError):
        return text


def _arabic(text: str) -> str:
    """Arabic number words made digits by pyarabic ("خمسة وأربعون" -> "45")."""
    text = _ARABIC_HUNDRED.sub("مئة", _ARABIC_AND.sub("و", text))
    text = _ARABIC_FOUR.sub(r"\1أربع", text)
    words = text.split()
    spans = arabic_number.detect_number_phrases_position(words)
    for start, end in sorted(spans, reverse=True):
        value = arabic_number.text2number(" ".join(words[start : end + 1]))
        if value:
            words[start : end + 1] = [str(value)]
    return " ".join(words)
