//! Where a visitor can tap: the places of "another match" and the language on a scene at a screen
//! size, as pure data. The booth hit-tests taps against these ([`hit`]), and the renderer draws
//! its buttons into the same rectangles and lays the rest of the scene out around them, so what is
//! tapped is what is drawn: the language at the top right (on the mirror view and the result),
//! "another match" at the bottom left of the result (under the visitor and their match in
//! landscape, under the quote on a portrait screen, under the further look-alikes on a tall one).

use super::scene::Scene;

/// A rectangle in screen pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    /// Whether the point is inside (the left and top edges are).
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x as f32 && y >= self.y as f32 && x < (self.x + self.w) as f32 && y < (self.y + self.h) as f32
    }
}

/// What can be tapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Show another of the visitor's best matches.
    AnotherMatch,
    /// Switch to the next language.
    Language,
}

/// The tappable places of `scene` on a screen of `size` (width, height) pixels. The unit `u` is
/// the renderer's (1/20 of the shorter side); each place is at least 2.4u high (13 mm on a 7"
/// Touch Display, 130 px on 1080p), larger than a fingertip.
pub fn targets(scene: &Scene, size: (u32, u32)) -> Vec<(Target, Rect)> {
    let (w, h) = (size.0 as i32, size.1 as i32);
    let u = w.min(h) as f32 / 20.0;
    let margin = (u * 0.8) as i32;
    let language = Rect { x: w - margin - (u * 6.0) as i32, y: margin, w: (u * 6.0) as i32, h: (u * 2.4) as i32 };
    let another = Rect { x: margin, y: h - margin - (u * 2.4) as i32, w: (w as f32 * 0.42) as i32, h: (u * 2.4) as i32 };
    match scene {
        Scene::Result { choices, .. } if *choices > 1 => vec![(Target::AnotherMatch, another), (Target::Language, language)],
        Scene::Result { .. } | Scene::Live { .. } => vec![(Target::Language, language)],
        _ => Vec::new(),
    }
}

/// What a tap at `x`, `y` (screen pixels) on `scene` hits, if anything.
pub fn hit(scene: &Scene, size: (u32, u32), x: f32, y: f32) -> Option<Target> {
    targets(scene, size).into_iter().find(|(_, r)| r.contains(x, y)).map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gallery::likeness::Likeness;

    fn result(choices: usize) -> Scene {
        Scene::Result { best: 0, likeness: Likeness::Clear, others: vec![], rank: 0, choices, language: None, visitor: None }
    }

    #[test]
    fn the_places_are_inside_every_screen_and_do_not_overlap() {
        for size in [(1920, 1080), (1080, 1920), (800, 480), (720, 1280), (240, 320)] {
            let t = targets(&result(3), size);
            assert_eq!(t.len(), 2);
            for (_, r) in &t {
                assert!(r.x >= 0 && r.y >= 0 && r.x + r.w <= size.0 as i32 && r.y + r.h <= size.1 as i32, "{size:?}: {r:?}");
                assert!(r.h as f32 >= size.0.min(size.1) as f32 / 20.0 * 2.3, "a finger's size at {size:?}: {r:?}");
            }
            let (a, b) = (t[0].1, t[1].1);
            assert!(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y, "{size:?}: {a:?} {b:?}");
        }
    }

    #[test]
    fn taps_hit_what_the_scene_offers() {
        let size = (1920, 1080);
        assert_eq!(hit(&result(3), size, 1800.0, 80.0), Some(Target::Language), "top right");
        assert_eq!(hit(&result(3), size, 100.0, 1000.0), Some(Target::AnotherMatch), "bottom left");
        assert_eq!(hit(&result(3), size, 960.0, 540.0), None, "the middle of the card");
        // One match only: nothing else to show.
        assert_eq!(hit(&result(1), size, 100.0, 1000.0), None);
        assert_eq!(hit(&Scene::Thanks, size, 1800.0, 80.0), None);
        assert_eq!(hit(&Scene::Attract { showcase: None }, size, 100.0, 1000.0), None);
        let edge = targets(&result(3), size)[1].1;
        assert!(edge.contains(edge.x as f32, edge.y as f32) && !edge.contains((edge.x + edge.w) as f32, edge.y as f32));
    }
}
