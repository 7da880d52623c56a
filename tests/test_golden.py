"""Golden files: deterministic, verified, certified, and loud about every corruption."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import numpy as np
import pytest

import textbook
from helpers import normwise_relative
from lstm_ref.cli import main
from lstm_ref.files import sha256
from lstm_ref.golden import CATALOGUE, FLAGS, generate, load_suite, suite, verify
from lstm_ref.golden.format import MANIFEST, GoldenFormatError
from lstm_ref.golden.schema import errors, schema
from lstm_ref.golden.verify import suite_directories
from lstm_ref.spec import ACTIVATIONS, MERGES

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@pytest.mark.parametrize("name", ["smoke", "standard"])
def test_committed_suite_is_what_the_generator_writes(name, tmp_path):
    """Byte-identical regeneration: deterministic, and the committed files are current."""
    generate(name, tmp_path, quiet=True, method="arb")
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in (GOLDEN / name).iterdir())
    for file in written:
        assert (tmp_path / file).read_bytes() == (GOLDEN / name / file).read_bytes(), (
            f"golden/{name}/{file} is out of date: run "
            f"`lstm-ref golden generate --suite {name} --certify arb`"
        )


def test_ziv_and_arb_certify_the_same_roundings(tmp_path):
    """Both methods, where both decide, store the same correctly rounded values (Ziv leaves
    a value that sits exactly on a rounding tie undecided: agreement cannot prove it)."""
    generate("smoke", tmp_path, quiet=True, method="ziv-mpmath")
    assert verify(tmp_path) == []
    ziv, arb = load_suite(tmp_path), load_suite(GOLDEN / "smoke")
    assert [c.id for c in ziv] == [c.id for c in arb]
    for a, b in zip(ziv, arb, strict=True):
        assert a.certification["method"] == "ziv-mpmath" and b.certification["method"] == "arb"
        for fmt in ("float64", "float32", "float16", "bfloat16"):
            for name in a.names:
                pairs = zip(a.stored[name][fmt], b.stored[name][fmt], strict=True)
                assert all(x is None or x == y for x, y in pairs), (a.id, name, fmt)
                assert None not in b.stored[name][fmt]


def test_generating_twice_gives_the_same_bytes(tmp_path):
    generate("smoke", tmp_path / "a", quiet=True)
    generate("smoke", tmp_path / "b", quiet=True)
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_committed_suites_verify(capsys):
    """`golden verify golden`: the folder of suites verifies each, with one report each."""
    assert suite_directories(GOLDEN) == [GOLDEN / "smoke", GOLDEN / "standard"]
    assert main(["golden", "verify", str(GOLDEN), "--quiet"]) == 0
    assert capsys.readouterr().out == f"{GOLDEN / 'smoke'}: ok\n{GOLDEN / 'standard'}: ok\n"


@pytest.mark.parametrize("name", ["smoke", "standard"])
def test_every_stored_rounding_is_certified(name):
    for file in sorted((GOLDEN / name).glob("*.json")):
        document = json.loads(file.read_text())
        if file.name == MANIFEST:
            continue
        assert document["certification"]["method"] == "arb"
        assert "rigorous" in document["certification"]["description"]
        for group in document["testGroups"]:
            for test in group["tests"]:
                assert test["certification"]["method"] == "arb"
                assert test["certification"]["undecided"] == {}
                assert test["certification"]["precisions"]
                for entry in test["expected"].values():
                    for fmt in ("float64", "float32", "float16", "bfloat16"):
                        assert None not in entry[fmt]


def test_expected_values_agree_with_the_textbook():
    """The stored float64 outputs, against the independent float64 transcription."""
    for case in load_suite(GOLDEN / "standard"):
        y, h_n, c_n, y_out = textbook.run(
            case.spec,
            dict(case.params),
            case.inputs.x,
            case.inputs.h0,
            case.inputs.c0,
            case.inputs.seq_lens,
        )
        expected = case.expected("float64")
        theirs = {"y": y, "h_n": h_n, "c_n": c_n, "y_out": y_out}
        for name, value in theirs.items():
            if value is not None:
                error = normwise_relative(expected[name], value)
                tolerance = 1e-13 if "long" not in case.id else 1e-12
                assert error <= tolerance, (case.id, name, error)


def test_loader_gives_every_dtype():
    case = load_suite(GOLDEN / "smoke")[0]
    for dtype, kind in [
        ("float64", np.float64),
        ("float32", np.float32),
        ("float16", np.float16),
        ("bfloat16", np.float32),
    ]:
        x, h0, c0 = case.inputs_as(dtype)
        assert x.dtype == kind and np.array_equal(x.astype(np.float64), case.inputs.x)
        assert all(v.dtype == kind for v in case.expected(dtype).values())
    bits = case.expected("bfloat16")["y"].view(np.uint32)
    assert not (bits & 0xFFFF).any()  # bfloat16 values held in float32
    mid, rad = case.enclosure("y")
    assert mid.shape == rad.shape == case.expected()["y"].shape


def test_suite_name_resolution_and_errors():
    assert [c.id for c in load_suite("smoke")] == [c.id for c in load_suite(GOLDEN / "smoke")]
    with pytest.raises(
        FileNotFoundError, match="`suite` 'nope' is neither a directory nor a suite"
    ):
        load_suite("nope")


def test_a_named_suite_missing_everywhere_is_generated_into_the_cache(tmp_path, monkeypatch):
    """An installed wheel carries no golden data: the named suite is generated once."""
    from lstm_ref.golden import load as loader

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(
        loader, "__file__", str(tmp_path / "site" / "lstm_ref" / "golden" / "load.py")
    )
    cases = load_suite("smoke")
    assert [c.id for c in cases] == [c.id for c in load_suite(GOLDEN / "smoke")]
    cached = loader.cache_root() / "smoke"
    assert cached.is_relative_to(tmp_path) and (cached / MANIFEST).is_file()
    for file in (GOLDEN / "smoke").iterdir():  # the same bytes as the committed suite
        assert (cached / file.name).read_bytes() == file.read_bytes()


# --- corruption -----------------------------------------------------------------------


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "smoke"
    shutil.copytree(GOLDEN / "smoke", target)
    return target


def rewrite(directory: Path, name: str, change, update_manifest=True):
    path = directory / name
    text = change(path.read_text())
    path.write_text(text)
    if update_manifest:
        manifest = json.loads((directory / MANIFEST).read_text())
        manifest["files"][name] = sha256(path)
        (directory / MANIFEST).write_text(json.dumps(manifest))


def edit(function):
    def change(text):
        document = json.loads(text)
        function(document)
        return json.dumps(document)

    return change


def first_test(document):
    return document["testGroups"][0]["tests"][0]


def test_changed_digit_is_caught_by_recomputation(copy):
    def corrupt(document):
        mid = first_test(document)["expected"]["y"]["mid"]
        mid[7] = mid[7][:-12] + ("1" if mid[7][-12] != "1" else "2") + mid[7][-11:]

    rewrite(copy, "lstm.json", edit(corrupt))
    problems = verify(copy)
    assert len(problems) == 1
    assert problems[0].startswith(f"{copy / 'lstm.json'}: test 'lstm-basic': y[7] = ")
    assert "lies outside the stored enclosure" in problems[0]


def test_changed_rounding_is_caught(copy):
    def corrupt(document):
        stored = first_test(document)["expected"]["h_n"]["float32"]
        stored[2] = "0x1p-1" if stored[2] != "0x1p-1" else "0x1p-2"

    rewrite(copy, "gru.json", edit(corrupt))
    (problem,) = verify(copy)
    assert problem.startswith(f"{copy / 'gru.json'}: test 'gru-basic': h_n[2] float32: stored ")
    assert ", but the value " in problem


def test_changed_input_is_caught(copy):
    def corrupt(document):
        first_test(document)["inputs"]["x"]["values"][0] = "0x1p-3"

    rewrite(copy, "rnn.json", edit(corrupt))
    problems = verify(copy)
    assert problems and all("test 'rnn-tanh'" in p for p in problems)


def test_changed_byte_without_manifest_is_a_checksum_error(copy):
    rewrite(
        copy,
        "lstm.json",
        lambda t: t.replace('"mid": ["0.', '"mid": ["1.', 1),
        update_manifest=False,
    )
    (problem,) = verify(copy)
    assert problem.startswith(f"{copy / 'lstm.json'}: sha256 ")
    assert "differs from the manifest's" in problem and "regenerate it" in problem


def test_wrong_checksum(copy):
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["files"]["gru.json"] = "0" * 64
    (copy / MANIFEST).write_text(json.dumps(manifest))
    (problem,) = verify(copy)
    assert "differs from the manifest's 0000000000000000" in problem


def test_truncated_file(copy):
    rewrite(copy, "lstm.json", lambda t: t[: len(t) // 2])
    (problem,) = verify(copy)
    assert problem.startswith(f"{copy / 'lstm.json'}: not valid JSON (")
    assert "the file may be truncated" in problem


def test_schema_violation(copy):
    def corrupt(document):
        first_test(document)["flags"] = "GateOrder"
        del document["testGroups"][0]["tests"][0]["comment"]

    rewrite(copy, "lstm.json", edit(corrupt))
    (problem,) = verify(copy)
    assert problem == (
        f"{copy / 'lstm.json'}: does not follow golden-v1.schema.json:\n"
        "  $.testGroups[0].tests[0]: missing required key 'comment'\n"
        "  $.testGroups[0].tests[0].flags: expected array; got str"
    )


def test_unknown_version(copy):
    rewrite(copy, "rnn.json", edit(lambda d: d.update(formatVersion=2)))
    (problem,) = verify(copy)
    assert problem == (
        f"{copy / 'rnn.json'}: `formatVersion` 2 is not supported; this lstm_ref "
        "reads 1: upgrade lstm_ref or regenerate the file"
    )


def test_missing_and_unlisted_files(copy):
    shutil.copy(copy / "gru.json", copy / "extra.json")
    assert verify(copy) == [f"{copy}: files not in the manifest: ['extra.json']"]
    (copy / "gru.json").unlink()
    assert verify(copy) == [f"{copy / 'gru.json'}: listed in the manifest but missing"]


def test_verify_command_exit_codes(copy, capsys):
    assert main(["golden", "verify", str(copy), "--quiet"]) == 0
    assert capsys.readouterr().out == f"{copy}: ok\n"
    rewrite(copy, "rnn.json", edit(lambda d: d.update(formatVersion=2)))
    assert main(["golden", "verify", str(copy), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert out.endswith(f"{copy}: FAILED, 1 problem(s)\n") and "formatVersion" in out


def test_a_suite_named_or_given_alone_is_verified_alone(monkeypatch, capsys):
    monkeypatch.delenv("LSTM_REF_GOLDEN", raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no folder named smoke here: the name is looked up
    assert suite_directories("smoke") == [GOLDEN / "smoke"]
    assert suite_directories(GOLDEN / "smoke") == [GOLDEN / "smoke"]
    assert main(["golden", "verify", "smoke", "--quiet", "--no-recompute"]) == 0
    assert capsys.readouterr().out == f"{GOLDEN / 'smoke'}: ok\n"


def test_a_folder_of_suites_reports_each_suite(copy, capsys):
    folder = copy.parent
    shutil.copytree(copy, folder / "twin")
    rewrite(copy, "rnn.json", edit(lambda d: d.update(formatVersion=2)))
    (folder / "lost-manifest").mkdir()
    shutil.copy(copy / "gru.json", folder / "lost-manifest" / "gru.json")
    (folder / "notes").mkdir()  # no JSON: not a suite, not reported
    (folder / "README.txt").write_text("suites\n")
    assert suite_directories(folder) == [folder / "lost-manifest", copy, folder / "twin"]
    assert main(["golden", "verify", str(folder), "--quiet", "--no-recompute"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"'{folder / 'lost-manifest'}': expected a golden suite (a folder with manifest.json) "
        "or a folder of suites; found a folder without manifest.json and without suites, "
        "holding gru.json",
        f"{folder / 'lost-manifest'}: FAILED, 1 problem(s)",
        f"{copy / 'rnn.json'}: `formatVersion` 2 is not supported; this lstm_ref reads 1: "
        "upgrade lstm_ref or regenerate the file",
        f"{copy}: FAILED, 1 problem(s)",
        f"{folder / 'twin'}: ok",
    ]
    assert verify(folder, recompute=False) == [
        f"'{folder / 'lost-manifest'}': expected a golden suite (a folder with manifest.json) "
        "or a folder of suites; found a folder without manifest.json and without suites, "
        "holding gru.json",
        f"{copy / 'rnn.json'}: `formatVersion` 2 is not supported; this lstm_ref reads 1: "
        "upgrade lstm_ref or regenerate the file",
    ]


def test_a_folder_without_suites_is_an_error_naming_it(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    expected = (
        f"'{empty}': expected a golden suite (a folder with manifest.json) or a folder "
        "of suites; found an empty folder"
    )
    with pytest.raises(GoldenFormatError) as error:
        suite_directories(empty)
    assert str(error.value) == expected
    assert verify(empty) == [expected]
    # Checked before any recomputation: a usage error, exit status 2, nothing verified.
    assert main(["golden", "verify", str(GOLDEN / "smoke"), str(empty), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"lstm-ref golden: error: {expected}\n")

    other = tmp_path / "other"
    for name in ["sub", "sub2"]:
        (other / name).mkdir(parents=True)
        (other / name / "data.json").write_text("{}")
    for index in range(9):
        (other / f"file{index}.txt").write_text("")
    with pytest.raises(GoldenFormatError) as error:
        suite_directories(other)
    assert str(error.value) == (
        f"'{other}': expected a golden suite (a folder with manifest.json) or a folder of "
        "suites; found a folder without manifest.json and without suites, holding file0.txt, "
        "file1.txt, file2.txt, file3.txt, file4.txt, file5.txt, file6.txt, file7.txt and 3 more"
    )
    with pytest.raises(GoldenFormatError, match="; found a file$"):
        suite_directories(GOLDEN / "smoke" / "lstm.json")


def test_show_command(capsys):
    assert main(["golden", "show", str(GOLDEN / "smoke" / "rnn.json")]) == 0
    out = capsys.readouterr().out
    assert "rnn tests of suite 'smoke', format 1" in out and "rnn-output" in out


def test_loader_refuses_corrupted_file(copy):
    rewrite(copy, "lstm.json", edit(lambda d: first_test(d)["params"].pop("layer0.W_x[i]")))
    with pytest.raises(GoldenFormatError, match="missing \\['layer0.W_x\\[i\\]'\\]"):
        load_suite(copy)


# --- schema ---------------------------------------------------------------------------

MUTATIONS = [
    lambda d: d.pop("notes"),
    lambda d: d.update(cell="lstm2"),
    lambda d: first_test(d)["expected"]["y"].update(float16=[1.0]),
    lambda d: first_test(d)["inputs"]["x"]["values"].__setitem__(0, "0.5"),
    lambda d: first_test(d).update(tcId=0),
    lambda d: d["testGroups"][0].update(extra=True),
    lambda d: first_test(d)["certification"].update(precisions=[]),
]


@pytest.mark.parametrize("mutation", range(len(MUTATIONS)))
def test_schema_validator_agrees_with_jsonschema(mutation):
    document = json.loads((GOLDEN / "smoke" / "lstm.json").read_text())
    assert errors(document) == []
    jsonschema.validate(document, schema())
    MUTATIONS[mutation](document)
    mine = errors(document)
    theirs = list(jsonschema.Draft202012Validator(schema()).iter_errors(document))
    assert mine and theirs and len(mine) == len(theirs)


# --- catalogue -----------------------------------------------------------------------


def test_catalogue_covers_every_flag_and_variant():
    standard = suite("standard")
    used = {flag for case in standard for flag in case.flags}
    assert used == set(FLAGS)
    assert set(FLAGS) <= {flag for case in CATALOGUE for flag in case.flags}
    specs = [case.spec for case in standard]
    assert {a.name for s in specs for a in s.activations} == set(ACTIVATIONS)
    assert {s.merge for s in specs if s.direction == "bidirectional"} == set(MERGES)
    assert {s.gru_reset for s in specs if s.cell == "gru"} == {"after", "before"}
    assert {s.nonlinearity for s in specs if s.cell == "rnn"} >= {"tanh", "relu"}
    assert {s.num_layers for s in specs} >= {1, 2, 3}
    assert any(c.steps >= 64 for c in standard) and any(c.steps == 1 for c in standard)
    assert any(c.seq_lens and 0 in c.seq_lens for c in standard)
    ids = [c.id for c in CATALOGUE]
    assert len(ids) == len(set(ids))


def test_edge_suite_generates_and_verifies(tmp_path):
    paths = generate("edge", tmp_path, quiet=True, method="arb")
    assert [p.name for p in paths] == ["lstm.json", "gru.json", "rnn.json", MANIFEST]
    assert verify(tmp_path) == []
    ids = {c.id for c in load_suite(tmp_path)}
    assert ids == {c.id for c in suite("edge")}


@pytest.mark.parametrize("method", ["ziv-mpmath", "arb"])
def test_saturated_values_get_honest_enclosures(method):
    """tanh(128) rounds to 1 at any working precision a first try uses: agreement of two
    precisions must not be taken for exactness. The truth is computed at 2000 bits."""
    from fractions import Fraction

    import mpmath

    from lstm_ref.golden.certify import certify
    from lstm_ref.golden.generate import values_at
    from lstm_ref.inputs import validate_inputs
    from lstm_ref.params import Params
    from lstm_ref.spec import Spec

    spec = Spec("rnn", input_size=1, hidden_size=1, bias=False)
    params = Params(spec, {"layer0.W_x": [[128.0]], "layer0.W_h": [[0.0]]})
    inputs = validate_inputs(spec, np.ones((1, 1, 1)))
    certified = certify(
        lambda bits, arith: values_at(spec, params, inputs, {}, bits, arith), 30, method
    )
    truth = values_at(spec, params, inputs, {}, 2000)["y"].flat[0]
    mid, rad = Fraction(certified.mid["y"][0]), Fraction(certified.rad["y"][0])
    sign, man, exp, _ = truth._mpf_
    assert abs(Fraction(man) * Fraction(2) ** exp - mid) <= rad
    assert rad > 0 and mpmath.mpf(1) - truth > 0


def test_thread_pools_are_refused(tmp_path):
    """mpmath's working precision is per process: threads would disturb each other."""
    from concurrent.futures import ThreadPoolExecutor

    with (
        ThreadPoolExecutor(2) as pool,
        pytest.raises(ValueError, match="`executor` must run tasks in separate processes"),
    ):
        generate("smoke", tmp_path, quiet=True, executor=pool)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("runner", ["serial", "processes", "dask"])
def test_generation_is_identical_whatever_runs_it(runner, tmp_path):
    """Byte-identical files from one process, a process pool, and the executor of a
    dask.distributed LocalCluster client (worker processes)."""
    if runner == "serial":
        generate("smoke", tmp_path, quiet=True, method="arb", workers=1)
    elif runner == "processes":
        generate("smoke", tmp_path, quiet=True, method="arb", workers=2)
    else:
        distributed = pytest.importorskip(
            "distributed", reason="dask.distributed is in the test extra"
        )
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            generate("smoke", tmp_path, quiet=True, method="arb", executor=client.get_executor())
    for file in (GOLDEN / "smoke").iterdir():
        assert (tmp_path / file.name).read_bytes() == file.read_bytes(), (runner, file.name)


def test_precision_rises_by_the_bits_the_radii_show_missing():
    """A recurrence whose balls lose 300 bits (the wrapping effect of long sequences):
    doubling the precision once would not decide it; the second evaluation goes straight
    to a precision that does. `max_bits` still caps the rise."""
    import flint

    from lstm_ref.golden.certify import certify

    def wrapping(bits, arithmetic):
        saved = flint.ctx.prec
        flint.ctx.prec = bits
        try:
            third = flint.arb(1) / 3  # radius about 2^-bits
            return {
                "y": np.array(
                    [third + flint.arb(0, 1) * flint.arb(2) ** (300 - bits) * third], dtype=object
                )
            }
        finally:
            flint.ctx.prec = saved

    certified = certify(wrapping, 30, "arb")
    first = certified.precisions[0]
    assert len(certified.precisions) == 2 and certified.precisions[1] > 2 * first
    assert not certified.undecided
    capped = certify(wrapping, 30, "arb", max_bits=2 * first)
    assert capped.precisions == [first, 2 * first] and capped.undecided == {"y": [0]}


def test_float64_shortcuts_decide_exactly_as_the_exact_decision():
    """The certifier decides most balls from float64 bounds; on balls built next to
    every kind of boundary (float64 and bfloat16 ties, the 10^-30 tolerance, zero,
    binade edges, subnormals) it must decide exactly as the exact path does."""
    import flint
    import mpmath

    from lstm_ref.golden.certify import _ball, _decide, _Enclosures

    saved = flint.ctx.prec
    flint.ctx.prec = 200
    try:
        rng = np.random.default_rng(5)
        balls = []
        for _ in range(3000):
            m = float(
                rng.choice([1.0, -1.0]) * rng.uniform(0.5, 2) * 2.0 ** rng.integers(-1070, 60)
            )
            spacing = np.spacing(abs(m))
            offset = rng.choice(
                [
                    0.0,
                    0.5 * spacing,
                    0.5 * spacing * (1 - 2.0**-30),
                    2.0**-9 * abs(m),
                    spacing * rng.uniform(-1, 1),
                ]
            )
            mid = flint.arb(m) + flint.arb(offset)
            radius = abs(float(mid)) * float(
                rng.choice(
                    [0.0, 1e-40, 1e-30, 1e-30 * (1 + 2.0**-45), 1e-30 * (1 - 2.0**-45), 1e-10]
                )
            )
            ball = mid + flint.arb(0, 1) * flint.arb(radius) if radius else mid
            balls.append(ball)
        balls += [
            flint.arb(0),
            flint.arb(0) + flint.arb(0, 1) * flint.arb(2.0**-80),
            flint.arb(2.0**-1074),
        ]
        shapes = {"y": (len(balls),)}
        with mpmath.workprec(600):
            fast, fast_ok = _decide({"y": _Enclosures(balls=balls)}, shapes, 30)
            exact, exact_ok = _decide(
                {"y": _Enclosures(pairs=[_ball(b) for b in balls])}, shapes, 30
            )
        assert fast.rounded == exact.rounded and fast.undecided == exact.undecided
        assert 0 < len(exact.undecided["y"]) < len(balls)  # both outcomes occur
    finally:
        flint.ctx.prec = saved
