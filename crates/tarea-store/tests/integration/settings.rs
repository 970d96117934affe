//! Tenant settings: per tenant, replaced, removed.
use super::*;

store_test!(settings_belong_to_their_tenant, |s: S| async move {
    assert_eq!(s.setting_get(T, "email").await.unwrap(), None);
    assert!(!s.setting_set(T, "email", Some(r#"{"a":1}"#.into()), NOW).await.unwrap());
    assert!(s.setting_set(T, "email", Some(r#"{"a":2}"#.into()), NOW).await.unwrap());
    assert_eq!(s.setting_get(T, "email").await.unwrap().as_deref(), Some(r#"{"a":2}"#));
    assert_eq!(s.setting_get("other", "email").await.unwrap(), None);
    assert!(s.setting_set(T, "email", None, NOW).await.unwrap());
    assert_eq!(s.setting_get(T, "email").await.unwrap(), None);
    assert!(!s.setting_set(T, "email", None, NOW).await.unwrap());
});
