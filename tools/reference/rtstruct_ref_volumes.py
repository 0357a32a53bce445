"""Independent RTSTRUCT rasteriser: pydicom + numpy + matplotlib.path.Path.contains_points at
voxel centres, even-odd by XOR of all contours of a ROI on a slice. Slices matched by z."""
import sys, glob, numpy as np, pydicom
from matplotlib.path import Path

ct_dir, rs_path = sys.argv[1], sys.argv[2]
cts = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(glob.glob(ct_dir + "/*.dcm"))]
cts.sort(key=lambda d: float(d.ImagePositionPatient[2]))
zs = np.array([float(d.ImagePositionPatient[2]) for d in cts])
d0 = cts[0]
rows, cols = int(d0.Rows), int(d0.Columns)
ps_row, ps_col = map(float, d0.PixelSpacing)
x0, y0 = float(d0.ImagePositionPatient[0]), float(d0.ImagePositionPatient[1])
dz = float(np.median(np.diff(zs)))
assert [float(v) for v in d0.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
jj, ii = np.mgrid[0:rows, 0:cols]
centres = np.column_stack([ii.ravel(), jj.ravel()]).astype(float)
rs = pydicom.dcmread(rs_path)
names = {int(r.ROINumber): r.ROIName for r in rs.StructureSetROISequence}
for rc in rs.ROIContourSequence:
    num = int(rc.ReferencedROINumber)
    slices = {}
    for c in getattr(rc, "ContourSequence", []):
        pts = np.array(c.ContourData, dtype=float).reshape(-1, 3)
        if len(pts) < 3:
            continue
        k = int(np.argmin(np.abs(zs - pts[0, 2])))
        if abs(zs[k] - pts[0, 2]) > 0.1 * dz:
            continue
        poly = np.column_stack([(pts[:, 0] - x0) / ps_col, (pts[:, 1] - y0) / ps_row])
        inside = Path(poly).contains_points(centres).reshape(rows, cols)
        slices[k] = slices.get(k, np.zeros((rows, cols), bool)) ^ inside
    n = int(sum(m.sum() for m in slices.values()))
    ml = n * ps_row * ps_col * dz / 1000.0
    print(f'("{names[num]}", {n}, {ml:.3f}),')
