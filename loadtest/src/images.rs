//! The images a load test posts: the image files of one folder, in name order, read into
//! memory up front so that disk reads never count towards a latency.

use std::path::Path;

use bytes::Bytes;

use crate::Error;

/// File extensions posted, compared case-insensitively.
const EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "gif", "webp", "bmp"];

/// One image file.
#[derive(Debug, Clone)]
pub struct Image {
    /// Its file name, sent as the multipart part's file name.
    pub name: String,
    /// Its contents.
    pub bytes: Bytes,
}

impl Image {
    /// The file name without its extension, as recog echoes it in a `name:label` reply.
    pub fn stem(&self) -> &str {
        Path::new(&self.name)
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or(&self.name)
    }
}

/// Reads every image file directly in `dir`, sorted by file name.
pub fn load(dir: &Path) -> Result<Vec<Image>, Error> {
    let unreadable = |source| Error::Images {
        path: dir.to_owned(),
        source,
    };
    let mut images = Vec::new();
    for name in image_names(dir).map_err(unreadable)? {
        let bytes = std::fs::read(dir.join(&name)).map_err(unreadable)?;
        images.push(Image {
            name,
            bytes: bytes.into(),
        });
    }
    if images.is_empty() {
        return Err(Error::NoImages(dir.to_owned()));
    }
    Ok(images)
}

/// The names of the image files directly in `dir`, sorted.
fn image_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        // Follows symbolic links, so a folder of links to images works too.
        if entry.path().is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(select(names))
}

/// Keeps the names with an image extension, in byte order.
fn select(mut names: Vec<String>) -> Vec<String> {
    names.retain(|name| is_image(name));
    names.sort();
    names
}

fn is_image(name: &str) -> bool {
    let extension = Path::new(name).extension().and_then(|e| e.to_str());
    extension.is_some_and(|e| EXTENSIONS.iter().any(|known| e.eq_ignore_ascii_case(known)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn keeps_image_extensions_in_any_case_sorted_by_name() {
        let names = strings(&[
            "test_10.JPEG",
            "notes.txt",
            "b.png",
            "test_2.jpeg",
            "c.GIF",
            "d.WebP",
            "e.bmp",
            "a.Jpg",
            "README",
            "f.tiff",
            "g.jpg.bak",
            "jpg",
            ".png",
        ]);
        let expected = [
            "a.Jpg",
            "b.png",
            "c.GIF",
            "d.WebP",
            "e.bmp",
            "test_10.JPEG",
            "test_2.jpeg",
        ];
        assert_eq!(select(names), strings(&expected));
    }

    #[test]
    fn stem_drops_only_the_last_extension() {
        let image = |name: &str| Image {
            name: name.into(),
            bytes: Bytes::new(),
        };
        assert_eq!(image("test_0.JPEG").stem(), "test_0");
        assert_eq!(image("cat.v2.png").stem(), "cat.v2");
    }

    #[test]
    fn loads_files_only_with_their_contents() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.png"), b"png bytes").unwrap();
        std::fs::write(dir.path().join("a.jpg"), b"jpg bytes").unwrap();
        std::fs::write(dir.path().join("labels.csv"), b"image,label").unwrap();
        std::fs::create_dir(dir.path().join("folder.jpg")).unwrap();

        let images = load(dir.path()).unwrap();
        let loaded: Vec<(&str, &[u8])> = images
            .iter()
            .map(|i| (i.name.as_str(), &i.bytes[..]))
            .collect();
        assert_eq!(
            loaded,
            [("a.jpg", &b"jpg bytes"[..]), ("b.png", &b"png bytes"[..])]
        );
    }

    #[test]
    fn a_folder_without_images_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"").unwrap();
        assert!(matches!(load(dir.path()), Err(Error::NoImages(path)) if path == dir.path()));
    }
}
