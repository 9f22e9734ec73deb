"""The confusion-matrix and importance figures the trainer logs (PNG) and the reports print (SVG)."""

from infra import plots


def test_the_trainer_gets_png_and_the_reports_get_stable_svg():
    matrix = [[50, 3], [4, 43]]
    png = plots.confusion(matrix, [0, 1], "lr: confusion matrix", fmt="png")
    assert png.startswith(b"\x89PNG\r\n")
    svg = plots.confusion(matrix, ["benign", "malignant"], "Confusion matrix")
    assert svg.lstrip().startswith(b"<?xml") and svg == plots.confusion(matrix, ["benign", "malignant"],
                                                                        "Confusion matrix")
    assert plots.data_uri(svg).startswith("data:image/svg+xml;base64,")


def test_importance_shows_the_strongest_features_by_size_whatever_their_sign():
    values = {"a": 0.1, "b": -0.9, "c": 0.5, "d": 0.0}
    assert plots.strongest(values, 2) == [("b", -0.9), ("c", 0.5)]
    assert plots.importance(values, "Top features", top=2, fmt="png").startswith(b"\x89PNG")
