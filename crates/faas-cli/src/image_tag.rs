//! `--tag` of `build`, `push`, `deploy` and `up`: image tags made from git metadata, as
//! OpenFaaS's faas-cli makes them. The image's tag (`latest` when it has none) gets a suffix:
//! `-<short sha>` (`sha`), `-<branch>-<short sha>` (`branch`) or `-<git describe --tags
//! --always>` (`describe`); `latest` leaves it alone. The commands must run at the same commit
//! for build, push and deploy to agree, as in OpenFaaS.

use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;

/// How images are tagged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TagFormat {
    /// The image as the stack file gives it.
    #[default]
    Latest,
    /// `<tag>-<short sha>`.
    Sha,
    /// `<tag>-<branch>-<short sha>`.
    Branch,
    /// `<tag>-<git describe --tags --always>`.
    Describe,
}

/// Why a tag could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// Not one of the formats.
    #[error("unknown image tag format {0:?}: use latest, sha, branch or describe")]
    Unknown(String),
    /// OpenFaaS's `digest` format (a hash of the Docker build context) has no meaning here.
    #[error("--tag=digest hashes a Docker build context, which the process runtime does not have: use latest, sha, branch or describe")]
    Digest,
    /// git failed or is missing.
    #[error("--tag={format} reads git metadata, and `git {args}` failed in {dir}: {detail}")]
    Git {
        /// The format asked for.
        format: &'static str,
        /// The git arguments.
        args: String,
        /// Where it ran.
        dir: String,
        /// What went wrong.
        detail: String,
    },
}

impl FromStr for TagFormat {
    type Err = TagError;

    fn from_str(text: &str) -> Result<TagFormat, TagError> {
        match text.to_ascii_lowercase().as_str() {
            "" | "default" | "latest" => Ok(TagFormat::Latest),
            "sha" => Ok(TagFormat::Sha),
            "branch" => Ok(TagFormat::Branch),
            "describe" => Ok(TagFormat::Describe),
            "digest" => Err(TagError::Digest),
            _ => Err(TagError::Unknown(text.to_owned())),
        }
    }
}

impl TagFormat {
    fn name(self) -> &'static str {
        match self {
            TagFormat::Latest => "latest",
            TagFormat::Sha => "sha",
            TagFormat::Branch => "branch",
            TagFormat::Describe => "describe",
        }
    }

    /// The suffix for images built from the git work tree at `dir`: empty for `latest`.
    pub fn suffix(self, git: &Path, dir: &Path) -> Result<String, TagError> {
        let run = |args: &[&str]| run_git(self.name(), git, dir, args);
        Ok(match self {
            TagFormat::Latest => String::new(),
            TagFormat::Sha => format!("-{}", run(&["rev-parse", "--short", "HEAD"])?),
            TagFormat::Branch => {
                let branch = run(&["rev-parse", "--symbolic-full-name", "--abbrev-ref", "HEAD"])?;
                let sha = run(&["rev-parse", "--short", "HEAD"])?;
                format!("-{}-{sha}", tag_safe(&branch))
            }
            TagFormat::Describe => {
                format!("-{}", tag_safe(&run(&["describe", "--tags", "--always"])?))
            }
        })
    }
}

fn run_git(
    format: &'static str,
    git: &Path,
    dir: &Path,
    args: &[&str],
) -> Result<String, TagError> {
    let failed = |detail: String| TagError::Git {
        format,
        args: args.join(" "),
        dir: dir.display().to_string(),
        detail,
    };
    let output = Command::new(git)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot run {}: {e}", git.display())))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || text.is_empty() {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(failed(if said.is_empty() {
            output.status.to_string()
        } else {
            said
        }));
    }
    Ok(text)
}

/// A Docker tag allows letters, digits, `_`, `.` and `-`: a branch such as `feature/x`
/// becomes `feature-x`.
fn tag_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `image` with `suffix` added to its tag (`latest` when it has none; a registry port is not
/// a tag).
/// An image pinned by digest (`name@sha256:...`) is left alone.
pub fn tagged(image: &str, suffix: &str) -> String {
    if image.contains('@') {
        return image.to_owned();
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    let with_tag = if last.contains(':') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    };
    format!("{with_tag}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_as_openfaas_names_them() {
        assert_eq!("".parse::<TagFormat>().unwrap(), TagFormat::Latest);
        assert_eq!("latest".parse::<TagFormat>().unwrap(), TagFormat::Latest);
        assert_eq!("SHA".parse::<TagFormat>().unwrap(), TagFormat::Sha);
        assert_eq!("branch".parse::<TagFormat>().unwrap(), TagFormat::Branch);
        assert_eq!(
            "describe".parse::<TagFormat>().unwrap(),
            TagFormat::Describe
        );
        assert!(matches!(
            "digest".parse::<TagFormat>(),
            Err(TagError::Digest)
        ));
        assert!(matches!(
            "version".parse::<TagFormat>(),
            Err(TagError::Unknown(_))
        ));
    }

    #[test]
    fn suffixes_go_after_the_tag() {
        assert_eq!(tagged("my-fn:0.2", "-cf59cfc"), "my-fn:0.2-cf59cfc");
        assert_eq!(
            tagged("my-other-fn", "-cf59cfc"),
            "my-other-fn:latest-cf59cfc"
        );
        assert_eq!(
            tagged("localhost:5000/team/fn", "-main-cf59cfc"),
            "localhost:5000/team/fn:latest-main-cf59cfc"
        );
        assert_eq!(tagged("fn", ""), "fn:latest");
        assert_eq!(tagged("fn@sha256:abc", "-x"), "fn@sha256:abc");
        assert_eq!(tag_safe("feature/new thing"), "feature-new-thing");
    }
}
