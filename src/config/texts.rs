//! The screen's texts: English and Dutch built in, further languages from `[texts.custom.LANG]`.

use serde::{Deserialize, Serialize};

/// Every text the screen shows, in one language.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Texts {
    pub title: String,
    pub invite: String,
    pub invite_sub: String,
    pub step_closer: String,
    pub look_at_camera: String,
    pub hold_still: String,
    pub matching: String,
    pub result_heading: String,
    /// No longer shown (the kind words below replaced "45 % look-alike"); kept so that configs
    /// that set it still load.
    pub likeness: String,
    /// How alike, weakest first (see `gallery::likeness`): never a percentage.
    pub likeness_shared: String,
    pub likeness_clear: String,
    pub likeness_strong: String,
    pub likeness_striking: String,
    /// The touch button (and what a short press of the push button does).
    pub another_match: String,
    /// This language's own name, on the language button.
    pub language_name: String,
    pub also_like: String,
    pub scan_story: String,
    pub thanks: String,
    pub camera_lost: String,
    pub camera_lost_sub: String,
    pub service: String,
    pub privacy: String,
    pub usb_updating: String,
    pub usb_installed: String,
    pub usb_refused: String,
    pub usb_up_to_date: String,
}

impl Texts {
    /// The English texts (the default).
    pub fn english() -> Texts {
        Texts {
            title: "Who do you look like?".into(),
            invite: "Step in front of the mirror".into(),
            invite_sub: "Meet someone who serves and looks a bit like you".into(),
            step_closer: "Step a little closer".into(),
            look_at_camera: "Look straight into the camera".into(),
            hold_still: "Hold still…".into(),
            matching: "Finding your role model…".into(),
            result_heading: "You look like".into(),
            likeness: "look-alike".into(),
            likeness_shared: "You share a look".into(),
            likeness_clear: "A clear likeness".into(),
            likeness_strong: "A strong likeness".into(),
            likeness_striking: "A striking likeness".into(),
            another_match: "Another match".into(),
            language_name: "English".into(),
            also_like: "You also look like".into(),
            scan_story: "Scan for my story".into(),
            thanks: "Thanks for stopping by!".into(),
            camera_lost: "Camera not connected".into(),
            camera_lost_sub: "The booth will continue as soon as the camera is back.".into(),
            service: "Service needed".into(),
            privacy: "Your picture is never stored or sent.".into(),
            usb_updating: "Updating from USB…".into(),
            usb_installed: "Update installed".into(),
            usb_refused: "Update refused".into(),
            usb_up_to_date: "Already up to date".into(),
        }
    }

    /// The Dutch texts.
    pub fn dutch() -> Texts {
        Texts {
            title: "Op wie lijk jij?".into(),
            invite: "Kom voor de spiegel staan".into(),
            invite_sub: "Ontmoet iemand die dient en een beetje op jou lijkt".into(),
            step_closer: "Kom iets dichterbij".into(),
            look_at_camera: "Kijk recht in de camera".into(),
            hold_still: "Even stilstaan…".into(),
            matching: "We zoeken jouw rolmodel…".into(),
            result_heading: "Jij lijkt op".into(),
            likeness: "gelijkenis".into(),
            likeness_shared: "Jullie hebben iets van elkaar".into(),
            likeness_clear: "Een duidelijke gelijkenis".into(),
            likeness_strong: "Een sterke gelijkenis".into(),
            likeness_striking: "Een opvallende gelijkenis".into(),
            another_match: "Nog een match".into(),
            language_name: "Nederlands".into(),
            also_like: "Je lijkt ook op".into(),
            scan_story: "Scan voor mijn verhaal".into(),
            thanks: "Bedankt voor je bezoek!".into(),
            camera_lost: "Camera niet aangesloten".into(),
            camera_lost_sub: "De stand gaat verder zodra de camera er weer is.".into(),
            service: "Onderhoud nodig".into(),
            privacy: "Je foto wordt nooit opgeslagen of verstuurd.".into(),
            usb_updating: "Bijwerken vanaf USB…".into(),
            usb_installed: "Update geïnstalleerd".into(),
            usb_refused: "Update geweigerd".into(),
            usb_up_to_date: "Al bijgewerkt".into(),
        }
    }
}

impl Texts {
    /// The kind words for a shown match.
    pub fn likeness_words(&self, likeness: crate::gallery::likeness::Likeness) -> &str {
        use crate::gallery::likeness::Likeness;
        match likeness {
            Likeness::Shared => &self.likeness_shared,
            Likeness::Clear => &self.likeness_clear,
            Likeness::Strong => &self.likeness_strong,
            Likeness::Striking => &self.likeness_striking,
        }
    }
}

impl Default for Texts {
    fn default() -> Self {
        Texts::english()
    }
}
