"""The /faq answers: no more than the trial listing says, each naming its source.

Questions the listing does not answer send the patient to the study team instead of
guessing. Texts are English message ids; :meth:`Renderer.faq` translates them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_

LISTING = N_("Source: the trial listing.")
BOTH = N_("Source: the trial listing. For this study, please ask the study team.")
STUDY_TEAM = N_("Source: the study team. Please ask them.")


@dataclass(frozen=True)
class Entry:
    """One question, its plain answer, and where the answer comes from."""

    question: str
    answer: str
    source: str


ENTRIES = (
    Entry(
        N_("What is a clinical trial?"),
        N_("It is a study that tests if a treatment works and if it is safe."),
        LISTING,
    ),
    Entry(
        N_("What does this study test?"),
        N_(
            "Islet cells make insulin. In this study, people get islet cells from a donor, "
            "given with stem cells from a baby's cord (umbilical cord). In the second part, "
            "some people get islet cells with stem cells, and some get islet cells only. "
            "The study checks if this is safe. It also checks if the body keeps making some "
            "of its own insulin (C-peptide), and how well blood sugar is controlled."
        ),
        LISTING,
    ),
    Entry(
        N_("Why take part?"),
        N_(
            "This study tests if the treatment is safe and if it works. "
            "Please ask the study team what taking part could mean for you."
        ),
        BOTH,
    ),
    Entry(
        N_("How long does it take?"),
        N_("Some trials last weeks, some last years. The listing does not say for this study."),
        BOTH,
    ),
    Entry(
        N_("Which medicines will I need after the transplant?"),
        N_("The listing does not say."),
        STUDY_TEAM,
    ),
    Entry(
        N_("Does it cost money? Will I get paid, or get my travel paid?"),
        N_(
            "Some trials pay for time or travel, and some do not. "
            "The listing does not say for this study."
        ),
        BOTH,
    ),
    Entry(
        N_("Is it safe?"),
        N_(
            "Trials follow strict rules to keep people safe, and their safety is checked "
            "regularly. Every treatment can have risks. The listing does not name the risks of "
            "this one."
        ),
        BOTH,
    ),
    Entry(
        N_("Do I have to join?"),
        N_("No. People join only if they agree of their own free will, and sign a form."),
        LISTING,
    ),
)
