"""Independent RTSTRUCT rasteriser #2: pydicom + numpy, W. R. Franklin's crossing-number test
(pnpoly: an edge (a, b) flips a point when (a.y > y) != (b.y > y) and x < x-crossing),
vectorised over all voxel centres of the contour's bounding box; even-odd by XOR of all
contours of a ROI on a slice; slices matched by nearest z (<= 0.1 x spacing).
Also prints matplotlib Path.contains_points for comparison."""
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

def pnpoly(poly, X, Y):
    inside = np.zeros(X.shape, bool)
    n = len(poly)
    for i in range(n):
        (xi, yi), (xj, yj) = poly[i], poly[i - 1]
        if yi == yj:
            continue
        cond = (yi > Y) != (yj > Y)
        xc = (xj - xi) * (Y - yi) / (yj - yi) + xi
        inside ^= cond & (X < xc)
    return inside

rs = pydicom.dcmread(rs_path)
names = {int(r.ROINumber): r.ROIName for r in rs.StructureSetROISequence}
jj, ii = np.mgrid[0:rows, 0:cols].astype(float)
centres = np.column_stack([ii.ravel(), jj.ravel()])
for rc in rs.ROIContourSequence:
    num = int(rc.ReferencedROINumber)
    sl, slm = {}, {}
    for c in getattr(rc, "ContourSequence", []):
        pts = np.array(c.ContourData, dtype=float).reshape(-1, 3)
        if len(pts) < 3:
            continue
        k = int(np.argmin(np.abs(zs - pts[0, 2])))
        if abs(zs[k] - pts[0, 2]) > 0.1 * dz:
            continue
        poly = np.column_stack([(pts[:, 0] - x0) / ps_col, (pts[:, 1] - y0) / ps_row])
        sl[k] = sl.get(k, np.zeros((rows, cols), bool)) ^ pnpoly(poly, ii, jj)
        slm[k] = slm.get(k, np.zeros((rows, cols), bool)) ^ Path(poly).contains_points(centres).reshape(rows, cols)
    n = int(sum(m.sum() for m in sl.values()))
    nm = int(sum(m.sum() for m in slm.values()))
    v = ps_row * ps_col * dz / 1000.0
    print(f'("{names[num]}", {n * v:.3f}), // {n} voxels; matplotlib {nm * v:.3f} mL ({nm} voxels)')
