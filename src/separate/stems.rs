//! Standard splits by their number of stems, as Spleeter's and Demucs' users ask for them: the
//! shipped models that make them and the name of the stem that the residual becomes.

use crate::choice::named_choice;

named_choice!(
    /// A standard split of a song.
    Stems, "stems" {
        /// Vocals and accompaniment (the residual): karaoke.
        Two = "2" | "2stems" | "two",
        /// Vocals, drums, bass and other (the residual of the three), with the joint Wiener
        /// mask so that the four stems add up to the mix.
        Four = "4" | "4stems" | "four",
    }
);

impl Stems {
    /// The shipped models of the split, in the order their stems are listed.
    pub fn models(self) -> &'static [&'static str] {
        match self {
            Stems::Two => &["vocals"],
            Stems::Four => &["vocals", "drums", "bass"],
        }
    }

    /// [`Stems::models`] as [`super::SeparatorSettings::models`] takes them.
    pub fn model_paths(self) -> Vec<std::path::PathBuf> {
        self.models().iter().map(std::path::PathBuf::from).collect()
    }

    /// The name of the stem that the residual (the mix minus the modelled stems) becomes.
    pub fn residual_name(self) -> &'static str {
        match self {
            Stems::Two => "accompaniment",
            Stems::Four => "other",
        }
    }

    /// The split that the targets `targets` make, in any order (`None` for any other set).
    pub fn of_targets<S: AsRef<str>>(targets: &[S]) -> Option<Stems> {
        let mut given: Vec<&str> = targets.iter().map(AsRef::as_ref).collect();
        given.sort_unstable();
        Stems::ALL.iter().copied().find(|stems| {
            let mut models = stems.models().to_vec();
            models.sort_unstable();
            models == given
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_stems_are_the_three_models_and_other() {
        assert_eq!(Stems::parse("4").unwrap(), Stems::Four);
        assert_eq!(Stems::parse("4stems").unwrap(), Stems::Four);
        assert_eq!(Stems::Four.models(), ["vocals", "drums", "bass"]);
        assert_eq!(Stems::Four.residual_name(), "other");
        assert_eq!(Stems::Two.models(), ["vocals"]);
        assert_eq!(Stems::Two.residual_name(), "accompaniment");
        assert_eq!(
            Stems::of_targets(&["bass", "vocals", "drums"]),
            Some(Stems::Four)
        );
        assert_eq!(Stems::of_targets(&["bass", "vocals"]), None);
        let error = Stems::parse("5").unwrap_err().to_string();
        assert!(error.contains("expected 2 or 4"), "{error}");
    }
}
