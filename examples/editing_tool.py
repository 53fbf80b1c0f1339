"""How an editing tool uses vidaesthetic: score a clip, get its best moments as markers.

    python examples/editing_tool.py clip.mp4
"""

import sys

import vidaesthetic as va


def best_moments(path: str, count: int = 5):
    """(timecode, seconds, score) of the best ``count`` moments, best first."""
    model = va.load_model()  # the default model; pass a name to choose
    with va.open_video(path) as video:
        print(f"{video.info.width}x{video.info.height}, {video.info.duration:.1f} s, {video.info.fps:.2f} fps")
        curve = va.score_video(video, model, sampling=va.Sampling(fps=10))  # 10 frames/s is plenty
    curve = va.smooth(curve, time_constant=1.0)
    spots = va.find_spots(curve, top=count, min_gap=3.0)
    return [(spot.timecode, spot.time, spot.score) for spot in spots]


if __name__ == "__main__":
    for timecode, seconds, score in best_moments(sys.argv[1]):
        print(f"marker at {timecode} ({seconds:.3f} s), score {score:.3f}")
