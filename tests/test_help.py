"""Every command's --help is plain text and shows each default once."""

import pytest

from analysis.dashboard import build_parser as dashboard_parser
from runners.evaluate.command import build_parser as evaluate_parser
from runners.search.command import build_parser as search_parser
from runners.train.command import build_parser as train_parser
from scaling.check import build_parser as check_parser
from scaling.fit import build_parser as fit_parser
from search_space.__main__ import build_parser as describe_parser

PARSERS = {"runners.search": search_parser, "runners.evaluate": evaluate_parser, "runners.train": train_parser,
           "scaling.fit": fit_parser, "scaling.check": check_parser,
           "analysis.dashboard": dashboard_parser, "search_space": describe_parser}


@pytest.mark.parametrize("name", PARSERS)
def test_help_is_plain_text_and_shows_each_default_once(name):
    parser = PARSERS[name]()
    assert "``" not in parser.format_help()
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or action.help is None or action.default == "==SUPPRESS==":
            continue
        help_text = formatter._expand_help(action)
        if action.default is None or action.default is False:
            assert "(default:" not in help_text, help_text  # "not given" is explained in words instead
        else:
            assert help_text.count("(default:") == 1, (action.option_strings, help_text)


def test_search_help_names_the_defaults_a_newcomer_looks_for():
    text = " ".join(search_parser().format_help().split())
    for shown in ("--epochs EPOCHS training epochs (default: 2)", "(default: tpe)", "when neither budget is given, 400M"):
        assert shown in text, shown
    fit = " ".join(fit_parser().format_help().split())
    assert "(default: 18m)" in fit and "(default: 2)" in fit
    train = " ".join(train_parser().format_help().split())
    assert "--epochs EPOCHS training epochs (default: 10)" in train
    check = " ".join(check_parser().format_help().split())
    assert "--epochs EPOCHS training epochs; when not given, 10, or the scaling run's" in check
