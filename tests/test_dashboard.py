"""Figures on small generated runs, the dashboard command, and the page in headless Chromium."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analysis import (compare_runs, family_costs, load_search_run, mac_ratio_by_phi, macs_vs_accuracy, network_stages,
                      parallel_coordinates, power_law_fit, scaling_baselines, search_history, search_sections,
                      share_simplex)
from analysis.dashboard import dashboard_sections, main
from analysis.search_report import best_network_parts
from runners.search.finalists import RungOptions, race, select_finalists
from runners.search.records import read_records
from scaling.fit import main as fit_main
from scaling.reports import read_coefficients, read_laws
from search_space import load_spec
from tests.commands import assert_one_line_error, call, spawn
from tests.runs import make_search_run
from tests.test_scaling_cli import grid_csv, law_csv

REPO = Path(__file__).resolve().parent.parent
SCREENSHOT = Path(os.environ.get("DASHBOARD_SCREENSHOT", REPO / "build" / "dashboard-e2e.png"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    search_a = make_search_run(root / "tpe", trials=10, seed=0)
    search_b = make_search_run(root / "random", trials=8, seed=1)
    scaling = root / "scaling"
    assert fit_main(["--results", str(grid_csv(root / "grid.csv")), "--base", "efficientnet-b0", "--out", str(scaling),
                     "--bootstrap", "100"]) == 0
    law = root / "law"
    assert fit_main(["--power-law", str(law_csv(root / "law.csv")), "--out", str(law), "--bootstrap", "100"]) == 0
    return {"tpe": search_a, "random": search_b, "scaling": scaling, "law": law, "root": root}


# --- figure functions ---------------------------------------------------------------------------


def test_search_figures_carry_every_complete_trial(runs):
    run = load_search_run(runs["tpe"])
    history = search_history(run.frame)
    assert len(history.data[0].x) == 10 and history.layout.xaxis.title.text.startswith("minutes")
    best = history.data[1].y
    assert list(best) == list(np.maximum.accumulate(history.data[0].y))
    scatter = macs_vs_accuracy(run.frame, budget=4e8)
    assert list(scatter.data[0].x) == pytest.approx(list(run.frame["macs"] / 1e6))
    assert "MACs (millions" in scatter.layout.xaxis.title.text
    assert any(shape.x0 == pytest.approx(400) for shape in scatter.layout.shapes)  # the budget line
    low, high = scatter.layout.xaxis.range  # the window (360-400) is a band inside the axis, not all of it
    assert low <= 320 and high >= 420 and low <= min(scatter.data[0].x) and high >= max(scatter.data[0].x)


def test_parallel_coordinates_encodes_categories_and_objective():
    params = pd.DataFrame({"block": ["MBConv", "FusedMBConv", "MBConv"], "kernel": [3, 5, 7]})
    figure = parallel_coordinates(params, pd.Series([0.1, 0.5, 0.3]), "reward")
    dimensions = figure.data[0].dimensions
    assert sorted(d.label for d in dimensions[:2]) == ["block", "kernel"] and dimensions[2].label == "reward"
    block = next(d for d in dimensions if d.label == "block")
    assert list(block.ticktext) == ["FusedMBConv", "MBConv"] and list(block.values) == [1, 0, 1]
    assert list(next(d for d in dimensions if d.label == "kernel").values) == [3, 5, 7]


def test_parallel_coordinates_keeps_the_most_important_parameters():
    rng = np.random.default_rng(0)
    params = pd.DataFrame({f"stage{i}.kernel": rng.choice([3, 5, 7], 40) for i in range(1, 21)})
    objective = pd.Series(params["stage4.kernel"] * 0.1 + params["stage9.kernel"] * 0.05 + rng.normal(0, 0.01, 40))
    figure = parallel_coordinates(params, objective, "reward", max_axes=3)
    labels = [d.label for d in figure.data[0].dimensions]
    assert len(labels) == 4 and labels[:2] == ["stage4.kernel", "stage9.kernel"] and labels[-1] == "reward"
    assert "3 most important of 20" in figure.layout.title.text
    importances = {name: 0.0 for name in params.columns} | {"stage17.kernel": 0.9, "stage2.kernel": 0.1}
    chosen = parallel_coordinates(params, objective, "reward", importances=importances, max_axes=2)
    assert [d.label for d in chosen.data[0].dimensions] == ["stage17.kernel", "stage2.kernel", "reward"]


def test_network_stages_sums_to_the_cost_model():
    spec = load_spec("efficientnet-b0")
    parts = best_network_parts(spec)
    figure = network_stages(parts)
    assert sum(figure.data[0].x) * 1e6 == pytest.approx(parts["macs"].sum())
    assert sum(figure.data[1].x) * 1e3 == pytest.approx(5_288_548)
    assert "r1_k3_s11_e1_i32_o16_se0.25" in list(figure.data[0].text)


def test_compare_runs_overlays_one_curve_per_run(runs):
    frames = {name: load_search_run(runs[name]).frame for name in ("tpe", "random")}
    figure = compare_runs(frames)
    assert [trace.name for trace in figure.data] == ["tpe", "random"]
    assert all(np.all(np.diff(trace.y) >= 0) for trace in figure.data)


def test_scaling_figures_from_a_fit(runs):
    coefficients = read_coefficients(runs["scaling"])
    simplex = share_simplex(coefficients)
    assert len(simplex.data[0].a) == 66  # every grid point of step 0.1
    assert simplex.layout.ternary.aaxis.title.text == "depth share"
    family = pd.read_csv(runs["scaling"] / "family.csv")
    ratio = mac_ratio_by_phi(family)
    assert list(ratio.data[0].y) == pytest.approx([2.0**phi for phi in range(0, 8)], rel=1e-4)
    assert ratio.layout.yaxis.type == "log"
    costs = family_costs(family)
    assert list(costs.data[0].y) == pytest.approx(list(family["params"] / 1e6))
    grid = pd.DataFrame({"share_depth": [1.0, 1.0, 0.0, 0.5], "share_width": [0.0, 0.0, 1.0, 0.5],
                         "share_resolution": [0.0, 0.0, 0.0, 0.0], "metric": [0.5, 0.6, 0.4, 0.7]})
    baselines = scaling_baselines(grid)
    assert [trace.name for trace in baselines.data] == ["depth only", "width only",
                                                        "compound: grid best, on the seeds that chose it",
                                                        "mean, 95% interval"]
    assert list(baselines.data[0].y) == [0.5, 0.6] and list(baselines.data[2].y) == [0.7]
    means = baselines.data[-1]  # every seed is a point; each group's mean carries its t interval
    assert list(means.y) == pytest.approx([0.55, 0.4, 0.7])
    assert means.error_y.array[0] == pytest.approx(12.706 * 0.05, rel=1e-3) and means.error_y.array[2] == 0
    with_fresh = scaling_baselines(grid, [0.55, 0.65])
    assert with_fresh.data[-2].name == "compound: chosen point, fresh seeds"
    assert list(with_fresh.data[-2].y) == [0.55, 0.65]


def test_power_law_figure_marks_held_out_points(runs):
    [law], _ = read_laws(runs["law"])
    figure = power_law_fit(law)
    names = [trace.name for trace in figure.data]
    assert "held out" in names and "95% bootstrap band" in names
    held = figure.data[names.index("held out")]
    assert len(held.x) == len(law.held_out.points)
    assert law.health in figure.layout.title.text
    assert figure.layout.xaxis.type == "log" and "macs" in figure.layout.xaxis.title.text


def test_measured_family_members_are_drawn_on_the_law_with_how_many_fall_inside_the_band(runs):
    [law], _ = read_laws(runs["law"])
    compute = np.asarray(law.band.compute)
    low, high = np.asarray(law.band.low), np.asarray(law.band.high)
    picks = [len(compute) // 4, len(compute) // 2, 3 * len(compute) // 4]
    # Errors: one inside the band, one above it, one below it; metric = 1 - error.
    errors = [(low[picks[0]] + high[picks[0]]) / 2, high[picks[1]] * 1.5, low[picks[2]] / 1.5]
    family = pd.DataFrame({"phi": [0, 1, 2], "name": ["b0", "b1", "b2"], "macs": compute[picks],
                           "measured_metric": [1 - e for e in errors], "inside_band": [True, False, False]})
    figure = power_law_fit(law, family)
    measured = next(trace for trace in figure.data if trace.name == "measured family members")
    assert list(measured.y) == pytest.approx(errors) and list(measured.x) == pytest.approx(compute[picks])
    assert "1 of 3 measured members inside the predicted band" in figure.layout.title.text
    assert "measured" not in " ".join(trace.name for trace in power_law_fit(law).data)


def test_a_training_run_shows_its_curves_and_result(tmp_path):
    run = tmp_path / "train"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"kind": "train"}))
    assert dashboard_sections([run]) == [("Training train: Training", "no epoch finished yet")]
    pd.DataFrame({"epoch": [1, 2], "resolution": ["16x16", "32x32"], "dropout": [0.1, 0.3], "augmentation": [0, 0.3],
                  "learning_rate": [1e-3, 0], "train_loss": [1.2, 0.8], "val_accuracy": [0.6, 0.7],
                  "val_loss": [1.0, 0.9], "seconds": [3.0, 7.0]}).to_csv(run / "curves.csv", index=False)
    (run / "result.json").write_text(json.dumps({"val_accuracy": 0.7, "test_accuracy": 0.69, "epochs": 2,
                                                "seconds": 7.0}))
    (heading, note), (_, figure) = dashboard_sections([run])
    assert "test accuracy 0.6900" in note
    accuracy = next(trace for trace in figure.data if trace.name == "validation accuracy")
    assert list(accuracy.y) == [0.6, 0.7] and "16x16, dropout 0.10" in accuracy.text[0]


def test_scaling_runs_compared_on_one_macs_axis(runs, tmp_path):
    frame = pd.read_csv(runs["root"] / "law.csv")
    frame.assign(metric=frame["metric"] - 0.05).to_csv(tmp_path / "worse.csv", index=False)
    worse = tmp_path / "worse"
    assert fit_main(["--power-law", str(tmp_path / "worse.csv"), "--out", str(worse), "--bootstrap", "50"]) == 0
    sections = dict(dashboard_sections([runs["law"], worse]))
    figure = sections["Scaling runs compared"]
    assert [trace.name for trace in figure.data] == ["law (table fit): members", "law (table fit): law",
                                                     "worse (table fit): members", "worse (table fit): law"]
    assert list(figure.data[2].y) == pytest.approx(list(frame["metric"] - 0.05))
    assert figure.layout.xaxis.type == "log" and figure.layout.xaxis.title.text.startswith("MACs")


# --- the command --------------------------------------------------------------------------------


def test_dashboard_over_search_and_scaling_runs(runs, tmp_path):
    out = tmp_path / "dashboard.html"
    assert main([str(runs[n]) for n in ("tpe", "random", "scaling", "law")] + ["--out", str(out)]) == 0
    page = out.read_text()
    assert page.count("plotly.js v") == 1  # embedded once
    assert not re.search(r"<script[^>]*\ssrc=", page) and not re.search(r"<link[^>]*href=\"http", page)
    headings = [h for h, _ in dashboard_sections([runs["tpe"], runs["random"]])]
    assert "Runs compared" in headings and "tpe: Parameter importances" in headings


def test_partial_and_empty_runs_render_with_a_note(tmp_path):
    failing = make_search_run(tmp_path / "failing", trials=3, states=["FAIL", "FAIL", "PRUNED"])
    with open(failing / "trials.jsonl", "a") as handle:
        handle.write('{"number": 3, "state": "COMPL')  # a run being written: torn last line
    sections = search_sections(failing)
    assert len(sections) == 1 and isinstance(sections[0][1], str) and "No trial has completed" in sections[0][1]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "evaluations.jsonl").write_text("")
    assert main([str(failing), str(fresh), "--out", str(tmp_path / "d.html")]) == 0
    assert "still being evaluated" in (tmp_path / "d.html").read_text()


@pytest.mark.parametrize("make, words", [
    (lambda p: p.mkdir(), "not a search, scaling or training run directory"),
    (lambda p: p.write_text("x"), "not a directory"),
    (lambda p: None, "not a directory"),
])
def test_not_a_run_is_one_line_and_exit_2(tmp_path, make, words, capsys):
    target = tmp_path / "thing"
    make(target)
    assert_one_line_error(call(main, [target, "--out", tmp_path / "d.html"], capsys), words)
    assert not (tmp_path / "d.html").exists()


def test_the_page_lands_in_the_run_directory_by_default(runs, tmp_path, capsys):
    """Not in the working directory: one run's page goes into it, several runs' into their parent."""
    assert call(main, [runs["law"]], capsys).code == 0
    assert (runs["law"] / "dashboard.html").is_file() and not (tmp_path / "dashboard.html").exists()
    assert call(main, [runs["tpe"], runs["random"]], capsys).code == 0
    assert (runs["root"] / "dashboard.html").is_file()


def _unusable(runs, directory: Path) -> Path:
    """A copy of the law run whose law did not predict its held-out points."""
    shutil.copytree(runs["law"], directory)
    laws = json.loads((directory / "laws.json").read_text())
    laws["laws"][0].update(usable=False, verdict="0 of 2 held-out points inside the refit's band")
    (directory / "laws.json").write_text(json.dumps(laws))
    return directory


def test_an_unusable_law_is_flagged_next_to_its_figure(runs, tmp_path):
    damaged = _unusable(runs, tmp_path / "unusable")
    headings = [heading for heading, _ in dashboard_sections([damaged])]
    flagged = [i for i, h in enumerate(headings) if "NOT USABLE: 0 of 2 held-out points" in h]
    assert flagged and "Power law" in headings[flagged[0] + 1]  # the warning sits right above the figure


@pytest.mark.browser
def test_png_export_writes_every_figure(runs, tmp_path):
    result = spawn("analysis.dashboard", runs["law"], "--out", tmp_path / "d.html", "--png", tmp_path / "png")
    assert result.code == 0, result.err
    figures = sum(isinstance(content, go.Figure) for _, content in dashboard_sections([runs["law"]]))
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert len(pngs) == figures and f"wrote {figures} PNG files" in result.out, result.err
    assert all(png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for png in pngs)


def test_png_export_without_kaleido_says_why(runs, tmp_path, monkeypatch):
    from analysis.dashboard import export_png

    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido now fails
    outcome = export_png(dashboard_sections([runs["law"]]), tmp_path / "png")
    assert outcome.startswith("PNG export skipped") and not (tmp_path / "png").exists()


# --- in a real browser --------------------------------------------------------------------------

BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,4000"]

RENDER_STATE = """
const figures = Array.from(document.querySelectorAll('.plotly-graph-div'));
return {
  figures: figures.length,
  rendered: figures.filter(f => f.classList.contains('js-plotly-plot') && f.querySelector('.main-svg')).length,
  resources: performance.getEntriesByType('resource').map(r => r.name),
  ready: document.readyState,
};
"""


@pytest.mark.browser
def test_dashboard_renders_in_headless_chromium_without_console_errors(runs, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    assert browser and driver_path, "install Debian's chromium and chromium-driver (see .ci/run) for this test"
    page = tmp_path / "dashboard.html"
    assert main([str(runs[n]) for n in ("tpe", "random", "scaling", "law")] + ["--out", str(page)]) == 0
    expected = sum(isinstance(content, go.Figure) for _, content in
                   dashboard_sections([runs[n] for n in ("tpe", "random", "scaling", "law")]))
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in BROWSER_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        driver.get(page.as_uri())
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(RENDER_STATE)["rendered"] == expected)
        state = driver.execute_script(RENDER_STATE)
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOT))
    finally:
        driver.quit()
    assert state["figures"] == expected >= 15 and state["rendered"] == expected
    assert errors == []
    assert all(not url.startswith(("http:", "https:")) for url in state["resources"]), state["resources"]
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_law_that_is_not_usable_is_not_extrapolated(runs, tmp_path):
    from scaling.compound import Coefficients
    from scaling.pipeline import write_family_outputs

    damaged = _unusable(runs, tmp_path / "unusable")
    law = read_laws(damaged)[0][0]
    assert not law.usable and law.health.startswith("NOT USABLE")
    # The family written with that law carries no prediction; with the usable law it does, up to
    # the stated extrapolation limit.
    usable = read_laws(runs["law"])[0][0]
    assert usable.usable
    for chosen_law, predicted in ((law, False), (usable, True)):
        out = tmp_path / f"family-{predicted}"
        write_family_outputs(out, load_spec("efficientnet-b0"), Coefficients(1.2, 1.1, 1.15), chosen_law, "total")
        family = pd.read_csv(out / "family.csv")
        reached = family["extrapolation"] <= usable.MAX_EXTRAPOLATION
        assert family["predicted_metric"].notna().tolist() == (reached & predicted).tolist()
    # A scaling run with that law says so right above its family figure.
    scaling = tmp_path / "scaling"
    shutil.copytree(runs["scaling"], scaling)
    shutil.copy(damaged / "laws.json", scaling / "laws.json")  # noqa: the unusable law
    headings = [heading for heading, _ in dashboard_sections([scaling])]
    note = headings.index("scaling: The family: no predicted metric")
    assert headings[note + 1] == "scaling: The family"


def test_the_search_header_names_the_winner_with_its_seed_verdict(runs):
    """The winner read straight from the log (the highest reward of a COMPLETE trial, the
    earlier one on a tie), not from the code that chose it."""
    headings = dict(dashboard_sections([runs["tpe"]]))
    header = headings[f"Search run {runs['tpe'].name}"]
    rows = [json.loads(line) for line in (runs["tpe"] / "trials.jsonl").read_text().splitlines()]
    complete = {row["number"]: row["reward"] for row in rows if row["state"] == "COMPLETE"}
    assert len(complete) >= 2  # a choice to make
    number = min(complete, key=lambda n: (-complete[n], n))
    assert f"best: trial {number}." in header and "one seed: no interval" in header
    for other in set(complete) - {number}:
        assert f"best: trial {other}." not in header


DAMAGES = {
    "coefficients not JSON": ("scaling", "coefficients.json", "{not json"),
    "coefficients a list": ("scaling", "coefficients.json", "[1, 2, 3]"),
    "coefficients binary": ("scaling", "coefficients.json", b"\xff\xfe\x00\x01"),
    "family empty": ("scaling", "family.csv", ""),
    "family header only": ("scaling", "family.csv", "phi,macs\n"),
    "family ragged": ("scaling", "family.csv", 'a,b\n1\n2,3,4,5\n"x'),
    "family binary": ("scaling", "family.csv", b"\xff\xfe\x00\x01"),
    "laws missing keys": ("law", "laws.json", '{"laws": [{"x": "macs"}]}'),
    "laws a list": ("law", "laws.json", "[1]"),
    "laws wrong types": ("law", "laws.json", '{"laws": [{"x": 1, "y": 2, "error": 3, "E": "a", "data": 5}]}'),
    "laws deep": ("law", "laws.json", "[" * 100_000 + "]" * 100_000),
    "trials wrong shape": ("tpe", "trials.jsonl", '{"number": "x", "state": 5}\n[1, 2]\n'),
    "trials unknown state": ("tpe", "trials.jsonl", '{"number": 0, "state": "BOGUS"}\n'),
    "trials wrong field types": ("tpe", "trials.jsonl", '{"number": 0, "state": "COMPLETE", "macs": "many"}\n'),
    "trials binary": ("tpe", "trials.jsonl", b"\xff\xfe\x00\x01\n"),
    "config binary": ("tpe", "config.json", b"\xff\xfe\x00\x01"),
    "config a list": ("tpe", "config.json", "[1]"),
    "best.yaml not a spec": ("tpe", "best.yaml", "stages: 5\n"),
    "evaluations wrong shape": ("scaling", "evaluations.jsonl", '{"role": 5}\n'),
    "family text in a number column": ("scaling", "family.csv", "phi,name,params,macs,realised_mac_ratio,"
                                       "ideal_mac_ratio,ghost_params,ghost_macs\n1,b1,lots,1,1,1,1,1\n"),
    "family without phi": ("scaling", "family.csv", "name,macs\nb1,5\n"),
    "grid text in metric": ("scaling", "grid.csv", "share_depth,share_width,share_resolution,metric\n1,0,0,high\n"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_run_file_is_a_note_or_one_line_never_a_traceback(runs, tmp_path, damage, capsys):
    run, name, content = DAMAGES[damage]
    damaged = tmp_path / "damaged"
    shutil.copytree(runs[run], damaged)
    target = damaged / name
    target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    outcome = call(main, [damaged], capsys)
    if outcome.code == 2:
        assert_one_line_error(outcome, str(damaged))
    else:  # a page, which says which file it could not use
        assert outcome.code == 0 and "Traceback" not in outcome.err
        page = (damaged / "dashboard.html").read_text()
        assert name in page, f"the page does not name the damaged {name}"


def test_a_log_damaged_mid_file_is_read_around_with_a_note_and_a_warning(runs, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    shutil.copytree(runs["tpe"], damaged)
    log = damaged / "trials.jsonl"
    complete = len(log.read_text().splitlines())
    log.write_text('{"number": 99, "sta\n' + log.read_text())
    outcome = call(main, [damaged], capsys)
    assert outcome.code == 0
    assert outcome.err.strip() == f"warning: {log}: 1 unreadable line(s) skipped (line 1)"
    page = (damaged / "dashboard.html").read_text()
    assert "1 unreadable line(s) skipped" in page
    assert f"{complete} trials finished" in page  # every intact record still counted


class _Tables(HTMLParser):
    """The cells of every ``table.answer`` on a page, table by table, row by row."""

    def __init__(self):
        super().__init__()
        self.tables, self._inside, self._cell = [], False, None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and "answer" in (dict(attrs).get("class") or ""):
            self.tables.append([])
            self._inside = True
        elif self._inside and tag == "tr":
            self.tables[-1].append([])
        elif self._inside and tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._inside = False
        elif self._inside and tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def answer_rows(page: Path) -> list[dict[str, dict[str, str]]]:
    parser = _Tables()
    parser.feed(page.read_text())
    return [{row[0]: dict(zip(table[0], row)) for row in table[1:]} for table in parser.tables]


def test_the_answer_blocks_read_back_equal_the_run_files(runs, tmp_path):
    page = tmp_path / "page.html"
    assert main([str(runs["tpe"]), str(runs["scaling"]), str(runs["law"]), "--out", str(page)]) == 0
    search, scaling, law = answer_rows(page)
    # The search: its winner and its score as results.csv has them, and the trials complete.
    results = pd.read_csv(runs["tpe"] / "results.csv")
    complete = results[results["state"] == "COMPLETE"]
    best = complete.loc[complete["reward"].idxmax()]
    assert search["winner"]["value"].startswith(f"trial {int(best['number'])}:")
    assert float(search["winner"]["value"].rsplit(" ", 1)[1]) == pytest.approx(best["reward"], abs=5e-5)
    assert search["complete trials"]["value"] == f"{len(complete)} of {len(results)}"
    # The scaling run: each coefficient and its interval as coefficients.json has them.
    coefficients = json.loads((runs["scaling"] / "coefficients.json").read_text())
    for name in ("alpha", "beta", "gamma"):
        assert float(scaling[name]["value"]) == pytest.approx(coefficients[name], abs=5e-5)
        if name in coefficients["on_boundary"]:
            assert scaling[name]["uncertainty"].startswith("on the boundary")
        else:
            low, high = coefficients["intervals"][name]
            assert scaling[name]["uncertainty"] == f"[{low:.3f}, {high:.3f}]"
    for comparison in coefficients["corner_comparisons"]:
        row = scaling[f"{comparison['winner']} vs {comparison['against']}"]
        assert float(row["value"]) == pytest.approx(comparison["difference"], abs=5e-5)
        assert row["status"] == comparison["verdict"]
    # The law: its parameters and verdict as laws.json has them.
    fitted = json.loads((runs["law"] / "laws.json").read_text())["laws"][0]
    row = law[f"law: {fitted['error']} vs {fitted['x']}"]
    E, A, a = (float(part) for part in row["value"].replace(" * C^-", " + ").split(" + "))
    assert (E, A, a) == pytest.approx((fitted["E"], fitted["A"], fitted["a"]), rel=1e-3, abs=1e-4)
    assert row["status"] == ("usable: " if fitted["usable"] else "NOT USABLE: ") + fitted["verdict"]


def test_figures_from_too_few_trials_are_left_out_with_a_note(runs):
    frame = pd.read_csv(runs["tpe"] / "results.csv")
    headings = dict(search_sections(runs["tpe"]))
    complete = int((frame["state"] == "COMPLETE").sum())
    if complete < 8:
        assert "left out" in headings["Parameter importances"]
    else:
        assert f"(from {complete} complete trials)" in headings["Parameter importances"].layout.title.text


def test_the_finalists_decision_reads_back_from_the_answer_block(tmp_path):
    run = make_search_run(tmp_path / "search", trials=6, seed=3)
    records = read_records(run)
    finalists = select_finalists(records, lambda r: r.reward, 3)
    rng = np.random.default_rng(0)
    decision = race(finalists, lambda record, seed: 0.8 + rng.normal(0, 0.01), RungOptions(3), run,
                    score=lambda record, accuracy: accuracy, cost=lambda record: float(record.params),
                    screening_score=lambda record: record.reward)
    page = tmp_path / "page.html"
    assert main([str(run), "--out", str(page)]) == 0
    (search,) = answer_rows(page)
    stored = json.loads((run / "finalists.json").read_text())
    assert search["reported best"]["value"].startswith(f"trial {stored['chosen']} (")
    assert search["reported best"]["uncertainty"] == "tie-break by params"
    assert search["equivalence set"]["value"] == "trials " + ", ".join(map(str, stored["equivalent"]))
    winner = next(f for f in stored["finalists"] if f["trial"] == stored["winner"])
    assert float(search["rung winner"]["value"].rsplit(" ", 1)[1]) == pytest.approx(winner["mean"], abs=5e-5)
    assert any(RungOptions(3).describe() in cell for cell in search["rung winner"].values())  # the rung's recipe
    assert decision.chosen == stored["chosen"] and "screening top" in search
