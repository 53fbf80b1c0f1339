"""SpotSettings: a bad value is one clear line when the settings are made, the digest is the text earlier
versions recorded (so their folders still count as done), and the record is frozen and travels to workers."""

import dataclasses
from dataclasses import replace
import pickle
from pathlib import Path

import pytest

from vidaesthetic import InputError, Sampling, SpotSettings

# settings_digest() of the dict the CLI built before SpotSettings, for its defaults and for every option changed.
EARLIER_DEFAULTS = (
    '{"backend": "auto", "batch_size": 32, "fast": false, "image_format": "jpg", "markers": [], '
    '"max_similarity": 0.95, "min_gap": 2.0, "model": {"compile": false, "device": "auto", "name": null, '
    '"precision": "auto", "weights": null}, "per_shot": null, "plot_format": "png", '
    '"sampling": "Sampling(stride=1, fps=None)", "time_constant": 1.0, "top": null}'
)
EARLIER_CHANGED = (
    '{"backend": "pyav", "batch_size": 8, "fast": true, "image_format": "png", "markers": ["edl", "vtt"], '
    '"max_similarity": null, "min_gap": 0.1, "model": {"compile": true, "device": "cpu", "name": "baseline", '
    '"precision": "bf16", "weights": "w/x.safetensors"}, "per_shot": 0, "plot_format": "svg", '
    '"sampling": "Sampling(stride=1, fps=2.5)", "time_constant": 0.5, "top": 3}'
)
CHANGED = SpotSettings(
    model_name="baseline", weights=Path("w/x.safetensors"), device="cpu", precision="bf16", compile=True,
    backend="pyav", sampling=Sampling(fps=2.5), batch_size=8, time_constant=0.5, top=3, min_gap=0.1, per_shot=0,
    max_similarity=None, image_format="png", plot_format="svg", fast=True, markers=("edl", "vtt"),
    progress=False, threads=2,
)


def test_the_digest_is_the_text_earlier_versions_recorded():
    """Earlier versions scored every frame unless told --fast: where a run still does, the text is theirs."""
    assert SpotSettings(fast=False).digest() == EARLIER_DEFAULTS
    assert CHANGED.digest() == EARLIER_CHANGED
    assert SpotSettings().digest() == EARLIER_DEFAULTS.replace('"fast": false', '"fast": "auto"')
    baseline = SpotSettings(model_name="baseline")  # never fast unless asked
    assert baseline.digest() == replace(baseline, fast=False).digest()
    sampled = SpotSettings(sampling=Sampling(fps=2.5))  # a sampling asked for is honoured: dense
    assert sampled.digest() == replace(sampled, fast=False).digest() != replace(sampled, fast=True).digest()


def test_housekeeping_stays_out_of_the_digest_and_every_result_setting_is_in_it():
    digest = SpotSettings().digest()
    assert SpotSettings(progress=False, threads=4).digest() == digest
    changes = {"model_name": "baseline", "weights": "w.safetensors", "device": "cpu", "precision": "fp32",
               "compile": True, "batch_size": 4, "backend": "pyav", "sampling": Sampling(stride=2),
               "time_constant": 0.0, "smoothing": "authors", "resize": "authors", "report": False, "top": 1, "min_gap": 0.0, "min_prominence": 0.1,
               "per_shot": 1,
               "max_similarity": 0.5, "image_format": "png", "plot_format": "pdf", "fast": True,
               "markers": ("edl",)}
    assert set(changes) | {"progress", "threads"} == {field.name for field in dataclasses.fields(SpotSettings)}
    for name, value in changes.items():
        assert SpotSettings(**{name: value}).digest() != digest, name


def test_equal_numbers_give_equal_digests():
    assert SpotSettings(min_gap=2, time_constant=1).digest() == SpotSettings().digest()
    assert SpotSettings(weights="w//x.safetensors").digest() == SpotSettings(weights=Path("w/x.safetensors")).digest()


@pytest.mark.parametrize("options, named", [
    ({"model_name": "resnet"}, "unknown model 'resnet'"),
    ({"precision": "fp8"}, "unknown precision 'fp8'"),
    ({"device": ""}, "device must be"),
    ({"backend": "ffmpeg"}, "unknown backend 'ffmpeg'"),
    ({"sampling": 2}, "sampling must be a Sampling"),
    ({"compile": "yes"}, "compile must be True or False"),
    ({"fast": 1}, "fast must be True, False or None"),
    ({"smoothing": "rts"}, "unknown smoothing 'rts'"),
    ({"report": "yes"}, "report must be True or False"),
    ({"batch_size": 0}, "batch_size must be a whole number of at least 1"),
    ({"top": 2.5}, "top must be a whole number of at least 1"),
    ({"per_shot": -1}, "per_shot must be a whole number of at least 0"),
    ({"threads": 0}, "threads must be a whole number of at least 1"),
    ({"time_constant": -1.0}, "time_constant must be a number at least 0"),
    ({"min_gap": float("nan")}, "min_gap must be a number at least 0"),
    ({"min_prominence": "0.1"}, "min_prominence must be a number at least 0"),
    ({"max_similarity": 1.5}, "max_similarity must be a number from -1 to 1"),
    ({"image_format": "gif"}, "unsupported image format 'gif'"),
    ({"plot_format": "jpg"}, "unsupported plot format 'jpg'"),
    ({"markers": "edl"}, "markers must be a sequence"),
    ({"markers": ["edl", "srt"]}, "unknown export format 'srt'"),
])
def test_a_bad_value_is_one_line_naming_it(options, named):
    with pytest.raises(InputError) as refused:
        SpotSettings(**options)
    assert named in str(refused.value) and "\n" not in str(refused.value)


def test_settings_are_frozen_normalised_and_picklable():
    settings = SpotSettings(top=3, markers=["vtt", "edl", "vtt"])
    assert settings.markers == ("vtt", "edl")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.top = 4
    assert pickle.loads(pickle.dumps(CHANGED)) == CHANGED
    assert dataclasses.replace(settings, top=5).top == 5
