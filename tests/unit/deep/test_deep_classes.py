"""Tasks on a subset of the classes (``--classes``): the syntax, the relabelling and class counts on synthetic IDX
data, seeded subsets drawn from the kept images, the run record, and the AutoAttack panel on a binary task."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rfrobust.cli import run_main
from rfrobust.deep.config import TrainConfig
from rfrobust.deep.data import (
    CLASS_GROUPINGS,
    load_dataset,
    parse_classes,
    select_classes,
    take,
    train_val_split,
)
from rfrobust.errors import InputError
from rfrobust.train import PROG, main


@pytest.mark.parametrize(
    "text,groups,names",
    [
        ("0,6", ((0,), (6,)), (None, None)),
        ("6,0", ((6,), (0,)), (None, None)),
        ("0/6", ((0,), (6,)), (None, None)),
        ("0,2,4,6/rest", ((0, 2, 4, 6), (1, 3, 5, 7, 8, 9)), (None, None)),
        ("rest/0,2,4,6", ((1, 3, 5, 7, 8, 9), (0, 2, 4, 6)), (None, None)),
        ("upper:0,2,4,6/other:rest", ((0, 2, 4, 6), (1, 3, 5, 7, 8, 9)), ("upper", "other")),
        ("upper-body", ((0, 2, 4, 6), (1, 3, 5, 7, 8, 9)), ("upper", "other")),
        ("0-4/5-9", ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)), (None, None)),
        (" 1, 3 / 5 ", ((1, 3), (5,)), (None, None)),
    ],
)
def test_class_syntax(text, groups, names):
    g = parse_classes(text)
    assert g.groups == groups and g.names == names and g.num_classes == len(groups)
    assert parse_classes(g.canonical()).groups == groups  # the recorded form reads back to the same task


@pytest.mark.parametrize(
    "text,why",
    [
        ("0", "at least two labels"),
        ("upper:0,2", "at least two labels"),
        ("rest", "at least two labels"),
        ("0,10", "outside 0..9"),
        ("0,x", "not a class index"),
        ("0,0", "appears twice"),
        ("0,1/1,2", "appears twice"),
        ("0/rest/rest", "rest given twice"),
        ("0-9/rest", "rest is empty"),
        ("0//1", "empty group"),
        ("", "empty group"),
        ("5-3/0", "backwards"),
        ("a b:0/1", "not a word"),
        ("x:0/x:1", "names must differ"),
    ],
)
def test_bad_classes_are_one_line_errors(text, why):
    with pytest.raises(InputError, match=why) as err:
        parse_classes(text)
    assert "classes" in str(err.value) and "\n" not in str(err.value)


def test_the_named_grouping_is_the_upper_body_garments():
    assert CLASS_GROUPINGS["upper-body"] == "upper:0,2,4,6/other:rest"
    assert parse_classes("0-20/rest", 100).groups[0] == tuple(range(21))  # CIFAR-100 has 100 classes


def test_select_classes_relabels_and_counts(idx_dir):
    data = load_dataset("synthetic-idx", "train", idx_dir)
    counts = np.bincount(data.y, minlength=10)
    pair = select_classes(data, parse_classes("6,0"))
    assert pair.num_classes == 2 and len(pair) == counts[0] + counts[6]
    assert np.bincount(pair.y).tolist() == [counts[6], counts[0]]  # 6 -> 0, 0 -> 1 (the order written)
    # the images are those of the kept classes, in the stored order, each with its new label
    keep = np.flatnonzero((data.y == 0) | (data.y == 6))
    np.testing.assert_array_equal(pair.x, data.x[keep])
    np.testing.assert_array_equal(pair.y, np.where(data.y[keep] == 6, 0, 1))
    upper = select_classes(data, parse_classes("upper-body"))
    assert len(upper) == len(data) and np.bincount(upper.y).tolist() == [
        counts[[0, 2, 4, 6]].sum(),
        counts[[1, 3, 5, 7, 8, 9]].sum(),
    ]
    assert select_classes(data, None) is data


def test_seeded_subsets_are_drawn_from_the_kept_images(idx_dir):
    data = select_classes(load_dataset("synthetic-idx", "train", idx_dir), parse_classes("1,2,3"))
    train, val = train_val_split(data, 40, seed=3)
    again, _ = train_val_split(data, 40, seed=3)
    sub = take(train, 50, seed=3)
    assert len(val) == 40 and len(train) == len(data) - 40 and set(np.unique(sub.y)) <= {0, 1, 2}
    np.testing.assert_array_equal(sub.x, take(again, 50, seed=3).x)  # same seed, same images
    assert not np.array_equal(take(train, 50, seed=4).y, sub.y)


def test_config_checks_classes_against_the_data_set():
    assert TrainConfig(classes="0,6").class_groups().num_classes == 2
    assert TrainConfig(classes="0-50/rest", dataset="cifar100").class_groups().groups[1] == tuple(range(51, 100))
    with pytest.raises(InputError, match="outside 0..9"):
        TrainConfig(classes="0-50/rest", dataset="cifar10")
    assert TrainConfig().class_groups() is None


def test_a_binary_run_records_its_task(idx_dir, tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = [
        "--dataset",
        "synthetic-idx",
        "--data-dir",
        idx_dir,
        "--classes",
        "first:0,1,2/rest",
        "--model",
        "mlp-8",
        "--epochs",
        "1",
        "--train-size",
        "200",
        "--val-size",
        "50",
        "--test-size",
        "60",
        "--attack-steps",
        "2",
        "--eval-steps",
        "2",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert run_main(main, argv, prog=PROG) == 0
    rec = json.loads(out.read_text())
    assert rec["classes"] == "first:0,1,2/rest" and rec["class_groups"] == "first:0,1,2/3,4,5,6,7,8,9"
    assert rec["num_classes"] == 2 and rec["n_train"] == 200 and rec["n_test"] == 60
    assert rec["robust_acc"] <= rec["natural_acc"] <= 1


def test_attacks_that_need_more_classes_are_refused_up_front(idx_dir, capsys):
    pytest.importorskip("pyautoattack")
    argv = ["--dataset", "synthetic-idx", "--data-dir", idx_dir, "--classes", "0,1", "--eval-attacks", "apgd-t"]
    rc = run_main(main, argv, prog=PROG)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "eval_attacks" in err and "2-class" in err


def test_autoattack_on_a_binary_task_drops_what_it_cannot_run(idx_dir):
    """AutoAttack's standard version assumes 10 classes: on a 2-class model APGD-T (targeted DLR loss) is left
    out, FAB-T aims at the one other class, and the worst case is still per example."""
    pytest.importorskip("pyautoattack")
    from rfrobust.train import run_record

    rec = run_record(
        {
            "dataset": "synthetic-idx",
            "data_dir": idx_dir,
            "classes": "0,1,2/rest",
            "model": "mlp-8",
            "epochs": 1,
            "train_size": 200,
            "val_size": 50,
            "test_size": 40,
            "attack_steps": 2,
            "eval_steps": 5,
            "eval_attacks": "autoattack,apgd-ce",
        },
        seed=0,
    )
    assert rec["attack_autoattack_attacks"] == "apgd-ce,fab-t,square"
    assert rec["attack_autoattack_fab_t_n_target_classes"] == 1
    assert rec["robust_acc_autoattack"] <= rec["robust_acc_apgd_ce"] <= rec["natural_acc"]
    assert rec["robust_acc_worst"] <= min(rec["robust_acc_autoattack"], rec["robust_acc"])
