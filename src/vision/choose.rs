//! Which detected face stands for an image or a frame: the one face-choice rule of the project,
//! with the policy each use needs.

use super::Face;

/// How the face that stands for an image is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacePolicy {
    /// The largest face (gallery photos, `match`, reference photos in `gallery audit`).
    Largest,
    /// The face nearest the image centre among faces at least 30 % of the largest's area
    /// (LFW: the labelled person is the central one).
    Central,
    /// The booth's visitor: the largest, weighted towards the centre of the frame
    /// (area x (1 - distance to centre / half diagonal), at least 5 % of the area).
    Visitor,
}

/// The face that stands for an image of `width` x `height` under `policy`; `None` without faces.
pub fn choose_face(faces: &[Face], width: u32, height: u32, policy: FacePolicy) -> Option<&Face> {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let from_centre = |f: &Face| (f.bbox[0] + f.bbox[2] / 2.0 - cx).hypot(f.bbox[1] + f.bbox[3] / 2.0 - cy);
    match policy {
        // The first of equal largest faces (the detector sorts by area, then score).
        FacePolicy::Largest => faces.iter().reduce(|best, f| if f.area() > best.area() { f } else { best }),
        FacePolicy::Central => {
            let largest = faces.iter().map(Face::area).fold(0.0f32, f32::max);
            faces.iter().filter(|f| f.area() >= 0.3 * largest).min_by(|a, b| from_centre(a).total_cmp(&from_centre(b)))
        }
        FacePolicy::Visitor => {
            let half_diag = (cx * cx + cy * cy).sqrt().max(1.0);
            let weight = |f: &Face| f.area() * (1.0 - from_centre(f) / half_diag).max(0.05);
            faces.iter().max_by(|a, b| weight(a).total_cmp(&weight(b)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, s: f32) -> Face {
        Face { bbox: [x, y, s, s], score: 0.9, landmarks: [[0.0; 2]; 5] }
    }

    fn chosen(faces: &[Face], policy: FacePolicy) -> Option<f32> {
        choose_face(faces, 640, 480, policy).map(|f| f.bbox[0])
    }

    #[test]
    fn the_visitor_is_the_large_central_face() {
        let faces = [face(0.0, 0.0, 100.0), face(270.0, 190.0, 90.0), face(300.0, 220.0, 20.0)];
        assert_eq!(chosen(&faces, FacePolicy::Visitor), Some(270.0));
        // A much larger face wins even off-centre.
        assert_eq!(chosen(&[face(0.0, 0.0, 300.0), face(300.0, 220.0, 40.0)], FacePolicy::Visitor), Some(0.0));
        assert_eq!(chosen(&[], FacePolicy::Visitor), None);
    }

    #[test]
    fn largest_and_central() {
        let faces = [face(270.0, 190.0, 90.0), face(0.0, 0.0, 100.0), face(300.0, 220.0, 20.0)];
        assert_eq!(chosen(&faces, FacePolicy::Largest), Some(0.0), "whatever the order");
        assert_eq!(chosen(&faces, FacePolicy::Central), Some(270.0), "the tiny face is not a candidate");
        assert_eq!(chosen(&[], FacePolicy::Largest), None);
        assert_eq!(chosen(&[], FacePolicy::Central), None);
    }
}
