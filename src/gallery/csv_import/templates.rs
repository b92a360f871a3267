//! The two files `rolemirror gallery new DIR` starts a gallery with: a commented `gallery.toml`
//! and a `role-models.csv` with the header and one example row.

use std::path::{Path, PathBuf};

use crate::gallery::manifest::MANIFEST_FILE;

/// File name of the CSV template `gallery new` writes.
pub const TEMPLATE_CSV_FILE: &str = "role-models.csv";

/// The commented gallery.toml template of `gallery new`.
pub const TEMPLATE_TOML: &str = r#"# gallery.toml: the role models of this gallery, read by `rolemirror gallery build` and the booth.
#
# Two ways to fill it:
#  - From a spreadsheet: open role-models.csv (one row per role model, the first row names the
#    columns), fill it in, save it as CSV (UTF-8; `,` or `;`), put the photos in this folder, then
#        rolemirror gallery import THIS-FOLDER --csv role-models.csv
#    The import checks every row and writes this file; it replaces these comments.
#    See docs/authoring.md.
#  - By hand: one [[role_model]] block per role model, like the example below (remove the #s).
# Then check and build:  rolemirror gallery check THIS-FOLDER && rolemirror gallery build THIS-FOLDER
#
# [[role_model]]
# id = "example-01"              # stable, only a-z 0-9 - _, unique in the gallery
# name = "Example Person"        # shown on screen
# role = "Example role"          # shown on screen
# branch = "Example branch"      # optional, shown on screen
# quote = "The role model's own words."   # optional, at most 200 characters
# story_url = "https://example.org/stories/example-01"   # http(s), shown as a QR code
# photos = ["example-01.jpg"]    # files in this folder; several: ["a.jpg", "b.jpg"]
#
# [role_model.declared]          # optional, only what the role model chose to declare
# consent = true                 # required with any of the fields below
# gender = "woman"               # free text; a soft cue for matching
# group = "..."                  # free text, in their words; gallery audits only
# tags = ["..."]                 # free text; gallery audits only
"#;

/// The role-models.csv template of `gallery new`: the header and one example row.
pub const TEMPLATE_CSV: &str = "id,name,role,branch,quote,story_url,photos,consent,gender,group,tags\r\n\
example-01,Example Person,Example role,Example branch,\"The role model's own words, at most 200 characters.\",https://example.org/stories/example-01,example-01.jpg,,,,\r\n";

/// `gallery new DIR`: writes the two templates, refusing (and writing nothing) when either
/// file exists. Returns the files written.
pub fn write_templates(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let files = [(dir.join(MANIFEST_FILE), TEMPLATE_TOML), (dir.join(TEMPLATE_CSV_FILE), TEMPLATE_CSV)];
    let there: Vec<String> = files.iter().filter(|(p, _)| p.exists()).map(|(p, _)| p.display().to_string()).collect();
    if !there.is_empty() {
        anyhow::bail!("{} already exist(s): nothing written (edit it, or choose a new folder)", there.join(" and "));
    }
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    for (path, text) in &files {
        crate::util::write_atomic(path, text.as_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}
