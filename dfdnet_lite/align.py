"""Face detection, 68 landmarks, alignment to the 512 FFHQ template, part boxes (Sec. 3.1; Notebook 02).

The official test script (csxmli2016/DFDNet, test_FaceDict.py) detects faces with dlib, fits a
similarity transform from 5 points to `packages/FFHQ_template.npy`, warps to 512 x 512, finds
68 landmarks on the aligned crop (with the FAN of face_alignment) and cuts the four part boxes
from them. We follow it with three documented changes: the 5 points come from dlib's 68-point
predictor, which also gives the crop's landmarks (one model file serves both); every face of
a photo is kept, not only the largest; the detector defaults to HOG (MMOD is an option).
Landmarks are found again on the upright crop rather than mapped from the photo: on CelebA
faces rotated by 30 degrees the mapped ones are 3.5 px off at 512, the re-found ones 1.2 px.
Paste-back lives in `dfdnet_lite.pasteback`.
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import FACE_SIZE, PARTS
from .data import licence_text

# The FFHQ 5-point template of the official code (packages/FFHQ_template.npy, 1024 px; the
# official script divides it by 2 for its 512 crop). Rows in dlib's 5-point order: outer and
# inner corner of the image-right eye, outer and inner corner of the image-left eye, the base
# of the nose. On 198 CelebA faces dlib's 5-point predictor agrees with the 68-point indices
# below within 1.3% of the eye distance on average (about 1.6 px at 512), so we take them
# from the 68 points.
TEMPLATE_1024 = np.array([
    [686.77227723, 488.62376238],
    [586.77227723, 493.59405941],
    [337.91089109, 488.38613861],
    [437.95049505, 493.51485149],
    [513.58415842, 678.50495050],
])
TEMPLATE_5 = TEMPLATE_1024 * (FACE_SIZE / 1024)  # (5, 2) at 512 px
FIVE_FROM_68 = (45, 42, 36, 39, 33)  # 68-point index of each template row

# Landmark groups of the official get_part_location ("left" = left in the image).
PART_LANDMARKS: dict[str, tuple[int, ...]] = {
    "left_eye": (*range(17, 22), *range(36, 42)),
    "right_eye": (*range(22, 27), *range(42, 48)),
    "nose": tuple(range(29, 36)),
    "mouth": tuple(range(48, 68)),
}
MIN_HALF_SIZE = 16  # the official floor on a part box's half side, px at 512

# Where dlib's HOG box falls on an aligned crop: median centre (255.1, 310.7) and side 287 px
# of the mapped boxes of 976 CelebA faces. The 68 points are found on the crop in this fixed
# box, whatever detector found the face (MMOD boxes are placed differently from HOG's).
CROP_RECT = (112, 167, 398, 453)  # (left, top, right, bottom), inclusive as dlib

MAX_DETECT_SIDE = 2000  # larger photos are detected on a downscaled copy
# Smallest face box each detector finds at upsample 0, measured on astronaut() scaled down;
# each upsample step halves it.
DETECTOR_MIN_PX = {"hog": 56, "mmod": 60}
MIN_FACE_PX = 32  # smaller boxes are below DFDNet's hardest x8 setting (a 64 px crop)

MODEL_FILES = {"hog": None, "mmod": "mmod_human_face_detector.dat",
               "landmarks68": "shape_predictor_68_face_landmarks.dat",
               "face_recognition": "dlib_face_recognition_resnet_model_v1.dat"}  # metrics.identity_similarity
DEBIAN_MODELS = Path("/usr/share/dlib")  # libdlib-data ships the 68-point file only
_MODELS: dict[str, object] = {}


def _dlib():
    """Import dlib lazily with an install hint (Notebook 02)."""
    try:
        import dlib
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("dlib is needed for face detection and landmarks: pip install dlib-bin") from err
    return dlib


def model_path(name: str) -> Path:
    """Path of a dlib model file from face-recognition-models, else Debian's libdlib-data (Notebook 02)."""
    filename = MODEL_FILES[name]
    folders = []
    spec = importlib.util.find_spec("face_recognition_models")  # importing it fails beside torch
    if spec is not None and spec.origin:
        folders.append(Path(spec.origin).parent / "models")
    folders.append(DEBIAN_MODELS)
    for folder in folders:
        if (folder / filename).is_file():
            return folder / filename
    raise FileNotFoundError(f"dlib model {filename} not found in {', '.join(map(str, folders))}: "
                            "pip install face-recognition-models==0.3.0")


def load_model(name: str):
    """The dlib detector ("hog", "mmod") or the 68-point predictor, loaded once (Notebook 02)."""
    if name not in _MODELS:
        dlib = _dlib()
        if name == "hog":
            _MODELS[name] = dlib.get_frontal_face_detector()
        elif name == "mmod":
            _MODELS[name] = dlib.cnn_face_detection_model_v1(str(model_path(name)))
        elif name == "landmarks68":
            _MODELS[name] = dlib.shape_predictor(str(model_path(name)))
            print(licence_text("dlib68"), file=sys.stderr)  # iBUG 300-W: non-commercial
        else:
            raise ValueError(f"unknown model {name!r}; expected hog, mmod or landmarks68")
    return _MODELS[name]


@dataclass
class Detections:
    """Faces found in one photo, with what the detector could not see (Notebook 02)."""

    rects: np.ndarray  # (N, 4) int (x1, y1, x2, y2) in photo px, largest face first
    scores: np.ndarray  # (N,) HOG SVM score or MMOD confidence
    detector: str
    upsample: int
    scale: float = 1.0  # detection ran on the photo resized by this factor
    min_face_px: float = 0.0  # smallest face box the detector sees here, photo px
    too_small: list = field(default_factory=list)  # (rect, reason) of faces left out
    note: str = ""  # why nothing was found, or "" when faces were found


def _run_detector(image: np.ndarray, detector: str, upsample: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw dlib detections: (N, 4) boxes and (N,) scores."""
    model = load_model(detector)
    if detector == "hog":
        rects, scores, _ = model.run(image, upsample, 0.0)
    else:
        found = model(image, upsample)
        rects, scores = [d.rect for d in found], [d.confidence for d in found]
    boxes = np.array([[r.left(), r.top(), r.right(), r.bottom()] for r in rects], float).reshape(-1, 4)
    return boxes, np.asarray(scores, float)


def detect_faces(image: np.ndarray, detector: str = "hog", upsample: int = 1,
                 max_side: int = MAX_DETECT_SIDE, probe: bool = True) -> Detections:
    """Every face box in an RGB photo; too-small faces are reported, not returned (Notebook 02)."""
    if detector not in ("hog", "mmod"):
        raise ValueError(f"unknown detector {detector!r}; expected 'hog' or 'mmod'")
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = image if scale == 1.0 else cv2.resize(image, (round(w * scale), round(h * scale)),
                                                  interpolation=cv2.INTER_AREA)
    small = np.ascontiguousarray(small)
    for up in range(upsample, -1, -1):  # a large face missed at `upsample` is often found with less
        boxes, scores = _run_detector(small, detector, up)
        if len(boxes):
            break
    boxes = np.round(boxes / scale).astype(int)  # back to photo px
    out = Detections(np.zeros((0, 4), int), np.zeros(0), detector, upsample, scale,
                     DETECTOR_MIN_PX[detector] / 2 ** upsample / scale)
    sides = boxes[:, 2] - boxes[:, 0] + 1
    keep = sides >= MIN_FACE_PX
    for box, side in zip(boxes[~keep], sides[~keep]):
        reason = f"face of {side} px is below the {MIN_FACE_PX} px minimum (smaller than DFDNet's x8 setting)"
        out.too_small.append((tuple(int(v) for v in box), reason))
    order = np.argsort(-sides[keep], kind="stable")
    out.rects, out.scores = boxes[keep][order], scores[keep][order]
    if len(out.rects) == 0 and not out.too_small and probe:
        _probe_smaller(small, out)
    if len(out.rects) == 0 and not out.note:
        out.note = (out.too_small[0][1] if out.too_small else
                    f"no face found ({detector} at upsample {upsample} sees faces from about "
                    f"{out.min_face_px:.0f} px)")
    return out


def _probe_smaller(small: np.ndarray, out: Detections) -> None:
    """Look once more with one more upsampling step, so that a face just too small is named as such."""
    up = out.upsample + 1
    if max(small.shape[:2]) * 2 ** up > 2 * MAX_DETECT_SIDE:
        return
    boxes, _ = _run_detector(small, out.detector, up)
    if len(boxes):
        side = int(round((boxes[0, 2] - boxes[0, 0] + 1) / out.scale))
        out.note = (f"face too small: {len(boxes)} face(s) of about {side} px found only with "
                    f"upsample={up} (--upsample {up} on the command line); {out.detector} at upsample {out.upsample} needs about "
                    f"{out.min_face_px:.0f} px")
        out.too_small += [(tuple(int(v) for v in np.round(b / out.scale)), out.note) for b in boxes]


def landmarks68(image: np.ndarray, rect) -> np.ndarray:
    """dlib's 68 landmarks (68, 2) float for the face in box rect = (x1, y1, x2, y2) (Notebook 02)."""
    dlib = _dlib()
    x1, y1, x2, y2 = (int(v) for v in rect)
    shape = load_model("landmarks68")(np.ascontiguousarray(image), dlib.rectangle(x1, y1, x2, y2))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)  # (68, 2)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """The 5 template points (5, 2) taken from 68 landmarks, in TEMPLATE_5's order (Notebook 02)."""
    return np.asarray(landmarks, np.float64)[list(FIVE_FROM_68)]


def similarity_matrix(src: np.ndarray, dst: np.ndarray = TEMPLATE_5) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) src -> dst as a 2 x 3 matrix (Notebook 02)."""
    from skimage.transform import SimilarityTransform

    if hasattr(SimilarityTransform, "from_estimate"):  # scikit-image >= 0.26
        tform = SimilarityTransform.from_estimate(src, dst)
        if not tform:
            raise ValueError(f"no similarity transform fits these points: {tform}")
    else:  # pragma: no cover - older scikit-image
        tform = SimilarityTransform()
        tform.estimate(src, dst)
    return tform.params[:2].copy()  # (2, 3)


def part_boxes(landmarks: np.ndarray) -> np.ndarray:
    """Part boxes (4, 4) int (x1, y1, x2, y2) in PARTS order, by the official rule (Sec. 3.1; Notebook 02)."""
    points = np.asarray(landmarks, np.float64)
    boxes = []
    for part in PARTS:
        group = points[list(PART_LANDMARKS[part])]  # (n, 2)
        centre = group.mean(0)
        half = max((group.max(0) - group.min(0)).max() / 2, MIN_HALF_SIZE)
        boxes.append(np.hstack((centre - half + 1, centre + half)).astype(int))  # truncation toward 0
    return np.stack(boxes)


@dataclass
class FaceCrop:
    """One aligned face and everything needed to use it and to paste it back (Notebook 02)."""

    face: np.ndarray  # (512, 512, 3) uint8 aligned face
    landmarks68: np.ndarray  # (68, 2) landmarks found on the crop
    boxes: np.ndarray  # (4, 4) int part boxes on the crop, PARTS order
    M: np.ndarray  # (2, 3) photo -> crop
    M_inv: np.ndarray  # (2, 3) crop -> photo
    rect: tuple  # (x1, y1, x2, y2) face box in the photo
    points5: np.ndarray  # (5, 2) photo points fitted to TEMPLATE_5
    fit_rms: float  # RMS distance of the mapped 5 points to the template, px at 512
    index: int = 0  # face number in its photo (0 = largest)
    source: "str | None" = None
    score: "float | None" = None

    def to_dict(self) -> dict:
        """Everything but the pixels, as plain lists (the CLI's JSON)."""
        return {"source": self.source, "index": self.index, "score": self.score,
                "rect": [int(v) for v in self.rect], "parts": list(PARTS),
                "boxes": self.boxes.tolist(), "landmarks68": self.landmarks68.tolist(),
                "points5": self.points5.tolist(), "M": self.M.tolist(), "M_inv": self.M_inv.tolist(),
                "fit_rms": self.fit_rms, "template5": TEMPLATE_5.tolist()}


def align_face(image: np.ndarray, landmarks: np.ndarray, rect=None, index: int = 0,
               source: "str | None" = None, score: "float | None" = None) -> FaceCrop:
    """Warp one face to the 512 template from its 68 (or 5) photo landmarks (Notebook 02)."""
    import cv2

    landmarks = np.asarray(landmarks, np.float64)
    pts5 = five_points(landmarks) if len(landmarks) == 68 else landmarks  # (5, 2)
    M = similarity_matrix(pts5)  # (2, 3)
    face = cv2.warpAffine(np.ascontiguousarray(image), M, (FACE_SIZE, FACE_SIZE), flags=cv2.INTER_LINEAR)
    mapped = pts5 @ M[:, :2].T + M[:, 2]
    crop_lms = landmarks68(face, CROP_RECT)  # on the upright crop, as the official code
    if rect is None:
        rect = (*landmarks.min(0).astype(int), *landmarks.max(0).astype(int))
    return FaceCrop(face, crop_lms, part_boxes(crop_lms), M, cv2.invertAffineTransform(M),
                    tuple(int(v) for v in rect), pts5,
                    float(np.sqrt(((mapped - TEMPLATE_5) ** 2).sum(1).mean())), index, source, score)


def align_photo(image: np.ndarray, detector: str = "hog", upsample: int = 1,
                source: "str | None" = None, detections: "Detections | None" = None) -> list[FaceCrop]:
    """Detect every face of a photo and align each one, largest first (Notebook 02)."""
    found = detections or detect_faces(image, detector, upsample)
    return [align_face(image, landmarks68(image, rect), rect, i, source, float(score))
            for i, (rect, score) in enumerate(zip(found.rects, found.scores))]


def draw_alignment(crop: FaceCrop, ax=None):
    """Show an aligned face with its 68 landmarks, 5 template points and 4 part boxes (Notebook 02)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(crop.face)
    ax.scatter(*crop.landmarks68.T, s=6, c="yellow", label="68 landmarks")
    ax.scatter(*TEMPLATE_5.T, s=40, marker="+", c="cyan", label="5-point template")
    for part, (x1, y1, x2, y2), colour in zip(PARTS, crop.boxes, ("red", "lime", "orange", "magenta")):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.5, ec=colour))
        ax.text(x1, y1 - 4, part, color=colour, fontsize=8)
    ax.set_title(f"face {crop.index}: fit RMS {crop.fit_rms:.1f} px")
    ax.legend(loc="lower right", fontsize=7)
    ax.set_axis_off()
    return ax
