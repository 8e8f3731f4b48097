//! Scroll depth: the deepest point of the page seen during one page view, as a percentage, and
//! when to report it.
//!
//! Reports go out when the maximum first crosses 25/50/75/100 % and once more at page hide (or
//! the next SPA navigation) if it grew since. Each report carries `depth` (the maximum so far)
//! and `prev` (the last reported maximum, 0 for the first report of a page view): the server's
//! scroll rollup adds `depth - prev`, so a page view's reports sum to its maximum depth exactly
//! once. Invariant: `depth > prev` in every report, and `prev` equals the previous report's
//! `depth` within a page view.

pub const MILESTONES: [u8; 4] = [25, 50, 75, 100];

/// Percentage of the document seen: the bottom of the viewport over the document height.
/// A document no taller than the viewport is seen entirely.
pub fn depth(scroll_y: f64, viewport_h: f64, doc_h: f64) -> u8 {
    if doc_h <= 0.0 || viewport_h >= doc_h {
        return 100;
    }
    let seen = (scroll_y.max(0.0) + viewport_h.max(0.0)) / doc_h * 100.0;
    // Sub-pixel rounding at the very bottom must still count as 100.
    let d = (seen + 0.5) as i64;
    d.clamp(0, 100) as u8
}

/// Per page view: the maximum seen and the last value reported.
#[derive(Default)]
pub struct Scroll {
    max: u8,
    reported: u8,
}

impl Scroll {
    /// A new page view starts from nothing.
    pub fn reset(&mut self) {
        *self = Scroll::default();
    }

    /// Records a depth; returns `(depth, prev)` to report when a milestone was newly crossed.
    pub fn observe(&mut self, depth: u8) -> Option<(u8, u8)> {
        let depth = depth.min(100);
        if depth <= self.max {
            return None;
        }
        self.max = depth;
        let crossed = MILESTONES.iter().any(|&m| self.reported < m && depth >= m);
        if crossed {
            self.report()
        } else {
            None
        }
    }

    /// At page hide: the maximum, if it grew since the last report.
    pub fn on_hide(&mut self) -> Option<(u8, u8)> {
        if self.max > self.reported {
            self.report()
        } else {
            None
        }
    }

    fn report(&mut self) -> Option<(u8, u8)> {
        let r = (self.max, self.reported);
        self.reported = self.max;
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_math() {
        assert_eq!(depth(0.0, 1000.0, 4000.0), 25);
        assert_eq!(depth(1000.0, 1000.0, 4000.0), 50);
        assert_eq!(depth(2999.6, 1000.0, 4000.0), 100);
        assert_eq!(depth(0.0, 800.0, 600.0), 100, "short pages are fully seen");
        assert_eq!(
            depth(-50.0, 100.0, 1000.0),
            10,
            "overscroll bounce is clamped"
        );
        assert_eq!(depth(5000.0, 1000.0, 4000.0), 100);
        assert_eq!(depth(0.0, 0.0, 0.0), 100);
    }

    #[test]
    fn reports_at_milestones_and_hide_with_prev_chaining() {
        let mut s = Scroll::default();
        assert_eq!(s.observe(10), None);
        assert_eq!(s.observe(26), Some((26, 0)));
        assert_eq!(s.observe(40), None);
        assert_eq!(s.observe(30), None, "never goes down");
        assert_eq!(
            s.observe(80),
            Some((80, 26)),
            "50 and 75 crossed at once: one report"
        );
        assert_eq!(s.on_hide(), None, "nothing new since");
        assert_eq!(s.observe(90), None);
        assert_eq!(s.on_hide(), Some((90, 80)));
        assert_eq!(s.observe(100), Some((100, 90)));
        assert_eq!(s.on_hide(), None);
    }

    #[test]
    fn reports_sum_to_the_maximum() {
        let mut s = Scroll::default();
        let mut sum = 0u32;
        for d in [5u8, 20, 33, 51, 52, 74, 76, 77, 99] {
            if let Some((d, p)) = s.observe(d) {
                sum += u32::from(d - p);
            }
        }
        if let Some((d, p)) = s.on_hide() {
            sum += u32::from(d - p);
        }
        assert_eq!(sum, 99);
        s.reset();
        assert_eq!(
            s.on_hide(),
            None,
            "a page view without scrolling reports nothing"
        );
    }
}
