//! ImageFolder and CSV datasets on small trees made here.

use std::path::Path;

use ablate_images::{ImageDataset, ImageSource};
use ablate_spec::{CsvData, DataSpec};

fn png(path: &Path, shade: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(4, 4, image::Rgb([shade, shade, shade]))
        .save(path)
        .unwrap();
}

fn folder(root: &Path) -> DataSpec {
    DataSpec::ImageFolder {
        root: root.to_owned(),
        val_fraction: Some(0.25),
        test_fraction: None,
    }
}

fn files(split: &[ablate_images::LabeledImage]) -> Vec<String> {
    split
        .iter()
        .map(|i| match &i.source {
            ImageSource::File(p) => p.display().to_string(),
            _ => unreachable!(),
        })
        .collect()
}

#[test]
fn image_folder_splits_each_class_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    for (class, n) in [("cat", 8), ("dog", 4)] {
        for i in 0..n {
            png(&dir.path().join(class).join(format!("{i}.png")), i as u8);
        }
    }
    std::fs::write(dir.path().join("cat/notes.txt"), "not an image").unwrap();
    let a = ImageDataset::open(&folder(dir.path())).unwrap();
    assert_eq!(a.class_names, vec!["cat", "dog"]);
    assert_eq!(
        (a.train.len(), a.val.len()),
        (9, 3),
        "2 of 8 cats and 1 of 4 dogs held out"
    );
    let b = ImageDataset::open(&folder(dir.path())).unwrap();
    assert_eq!(files(&a.val), files(&b.val));
    assert!(a.test.is_empty());

    // A test fraction keeps val as it was and takes test from what was train.
    let with_test = ImageDataset::open(&DataSpec::ImageFolder {
        root: dir.path().to_owned(),
        val_fraction: Some(0.25),
        test_fraction: Some(0.25),
    })
    .unwrap();
    assert_eq!(files(&with_test.val), files(&a.val));
    assert_eq!(
        (with_test.train.len(), with_test.test.len()),
        (6, 3),
        "2 of 8 cats and 1 of 4 dogs for test too"
    );
    let train: Vec<String> = files(&a.train);
    assert!(files(&with_test.test).iter().all(|f| train.contains(f)));
    assert!(
        files(&with_test.train)
            .iter()
            .all(|f| !files(&with_test.test).contains(f))
    );
    assert_eq!(a.content_sha256, b.content_sha256);
    png(&dir.path().join("dog/0.png"), 99);
    assert_ne!(
        ImageDataset::open(&folder(dir.path()))
            .unwrap()
            .content_sha256,
        a.content_sha256,
        "content changes the hash"
    );

    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    let err = ImageDataset::open(&folder(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("empty") && err.contains("no images"), "{err}");
}

#[test]
fn image_folder_with_train_and_val_subtrees() {
    let dir = tempfile::tempdir().unwrap();
    for split in ["train", "val"] {
        for class in ["a", "b"] {
            png(&dir.path().join(split).join(class).join("x.png"), 1);
        }
    }
    png(&dir.path().join("train/b/y.png"), 2);
    let given = |test_fraction| DataSpec::ImageFolder {
        root: dir.path().to_owned(),
        val_fraction: None,
        test_fraction,
    };
    let set = ImageDataset::open(&given(None)).unwrap();
    assert_eq!((set.train.len(), set.val.len(), set.test.len()), (3, 2, 0));
    assert_eq!(set.train.iter().filter(|i| i.label == 1).count(), 2);
    for class in ["a", "b"] {
        png(&dir.path().join("test").join(class).join("t.png"), 3);
    }
    let set = ImageDataset::open(&given(None)).unwrap();
    assert_eq!((set.train.len(), set.val.len(), set.test.len()), (3, 2, 2));
    let err = ImageDataset::open(&given(Some(0.2)))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("data.test_fraction") && err.contains("test/"),
        "{err}"
    );
}

fn csv_spec(dir: &Path, label: Option<&str>, one_hot: Option<Vec<String>>) -> DataSpec {
    DataSpec::Csv(CsvData {
        csv: dir.join("train.csv"),
        images: dir.join("images"),
        id_column: "image_id".into(),
        label_column: label.map(String::from),
        one_hot_columns: one_hot,
        extension: "png".into(),
        val_fraction: 0.5,
        test_fraction: None,
    })
}

#[test]
fn csv_with_one_hot_columns_or_a_label_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = vec!["image_id,healthy,rust,label".to_string()];
    for i in 0..6 {
        png(&dir.path().join(format!("images/Train_{i}.png")), i);
        let (h, r) = if i % 2 == 0 { (1, 0) } else { (0, 1) };
        rows.push(format!(
            "Train_{i},{h},{r},{}",
            if i % 2 == 0 { "healthy" } else { "rust" }
        ));
    }
    std::fs::write(dir.path().join("train.csv"), rows.join("\n")).unwrap();
    let one_hot = ImageDataset::open(&csv_spec(
        dir.path(),
        None,
        Some(vec!["healthy".into(), "rust".into()]),
    ))
    .unwrap();
    assert_eq!(one_hot.class_names, vec!["healthy", "rust"]);
    // 3 per class, round(3 * 0.5) = 2 held out of each.
    assert_eq!((one_hot.train.len(), one_hot.val.len()), (2, 4));
    let labelled = ImageDataset::open(&csv_spec(dir.path(), Some("label"), None)).unwrap();
    assert_eq!(labelled.class_names, one_hot.class_names);
    assert_eq!(labelled.content_sha256, one_hot.content_sha256);
    let mut spec = csv_spec(dir.path(), Some("label"), None);
    if let DataSpec::Csv(data) = &mut spec {
        (data.val_fraction, data.test_fraction) = (0.3, Some(0.3));
    }
    let with_test = ImageDataset::open(&spec).unwrap();
    // 3 per class: one each for val, test and train.
    assert_eq!(
        (
            with_test.train.len(),
            with_test.val.len(),
            with_test.test.len()
        ),
        (2, 2, 2)
    );

    // (what breaks, words the error must contain)
    type Breaks = Box<dyn Fn(&Path)>;
    let cases: Vec<(Breaks, Vec<&str>)> = vec![
        (
            Box::new(|d: &Path| std::fs::remove_file(d.join("images/Train_3.png")).unwrap()),
            vec!["Train_3.png"],
        ),
        (
            Box::new(|d: &Path| {
                std::fs::write(
                    d.join("train.csv"),
                    "image_id,healthy,rust,label\nTrain_0,1,1,healthy\n",
                )
                .unwrap()
            }),
            vec!["train.csv", "row 2", "exactly one"],
        ),
    ];
    for (breaks, needles) in cases {
        breaks(dir.path());
        let err = ImageDataset::open(&csv_spec(
            dir.path(),
            None,
            Some(vec!["healthy".into(), "rust".into()]),
        ))
        .unwrap_err()
        .to_string();
        for needle in needles {
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }
    let err = ImageDataset::open(&csv_spec(dir.path(), Some("diagnosis"), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no column `diagnosis`"), "{err}");
}
