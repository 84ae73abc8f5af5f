//! [`named_choice!`]: the one way saex declares a setting that is one of a few names (a mask, a
//! loss, an output type, ...), so that config.json, the command line and error messages agree.

/// Declares an enum whose values are names: serialised as its name, parsed from it (or from an
/// alias, ignoring case and surrounding blanks) by `parse` and `FromStr` with an error that
/// lists the choices, and shown as it. `ALL` lists the choices in order.
///
/// ```ignore
/// named_choice!(
///     /// How estimates become masks.
///     MaskKind, "mask" {
///         Ratio = "ratio",
///         Wiener = "wiener" | "joint",
///     }
/// );
/// ```
macro_rules! named_choice {
    ($(#[$doc:meta])* $name:ident, $what:literal {
        $($(#[$vdoc:meta])* $variant:ident = $text:literal $(| $alias:literal)*),+ $(,)?
    }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text $(, alias = $alias)*)] $variant,)+
        }

        impl $name {
            /// Every choice, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name as written in config.json and on the command line.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The choice called `name` (or one of its aliases); an error lists the choices.
            pub fn parse(name: &str) -> $crate::error::Result<Self> {
                let wanted = name.trim();
                $(
                    if [$text $(, $alias)*].iter().any(|n| n.eq_ignore_ascii_case(wanted)) {
                        return Ok($name::$variant);
                    }
                )+
                let names: Vec<&str> = $name::ALL.iter().map(|c| c.name()).collect();
                Err($crate::error::Error::Invalid(format!(
                    "{} {:?}: expected {}",
                    $what,
                    wanted,
                    $crate::choice::one_of(&names)
                )))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                $name::parse(s)
            }
        }
    };
}

pub(crate) use named_choice;

/// `a`, `a or b`, `a, b or c`.
pub(crate) fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    named_choice!(
        /// A test choice.
        #[derive(Default)]
        Colour, "colour" {
            #[default]
            Red = "red",
            Green = "green" | "g",
            Blue = "blue",
        }
    );

    #[test]
    fn names_aliases_and_errors() {
        assert_eq!(Colour::parse(" RED ").unwrap(), Colour::Red);
        assert_eq!("g".parse::<Colour>().unwrap(), Colour::Green);
        assert_eq!(Colour::Green.to_string(), "green");
        assert_eq!(Colour::default(), Colour::Red);
        assert_eq!(
            Colour::parse("pink").unwrap_err().to_string(),
            "colour \"pink\": expected red, green or blue"
        );
        assert_eq!(serde_json::to_string(&Colour::Blue).unwrap(), "\"blue\"");
        assert_eq!(
            serde_json::from_str::<Colour>("\"g\"").unwrap(),
            Colour::Green
        );
        assert_eq!(one_of(&["a"]), "a");
        assert_eq!(one_of(&["a", "b"]), "a or b");
    }
}
