"""Body parts as a person reads them: DICOM Body Part Examined codes (PS3.16 Annex L, CID
4031, and the short forms modalities and the RIS catalogue use) with their Chinese and
English names. A printed report says 胸部, never ``CHEST``; an unknown code is shown as it is
(a site's own codes are not lost)."""

from __future__ import annotations

# code -> (Chinese, English)
BODY_PARTS: dict[str, tuple[str, str]] = {
    "HEAD": ("头颅", "Head"),
    "BRAIN": ("颅脑", "Brain"),
    "SKULL": ("颅骨", "Skull"),
    "FACE": ("面部", "Face"),
    "SINUS": ("鼻窦", "Sinuses"),
    "ORBIT": ("眼眶", "Orbit"),
    "EAR": ("耳部", "Ear"),
    "TEMPORALBONE": ("颞骨", "Temporal bone"),
    "NECK": ("颈部", "Neck"),
    "THYROID": ("甲状腺", "Thyroid"),
    "CHEST": ("胸部", "Chest"),
    "LUNG": ("肺", "Lung"),
    "HEART": ("心脏", "Heart"),
    "BREAST": ("乳腺", "Breast"),
    "ABDOMEN": ("腹部", "Abdomen"),
    "LIVER": ("肝脏", "Liver"),
    "GALLBLADDER": ("胆囊", "Gallbladder"),
    "PANCREAS": ("胰腺", "Pancreas"),
    "SPLEEN": ("脾脏", "Spleen"),
    "KIDNEY": ("肾脏", "Kidney"),
    "STOMACH": ("胃", "Stomach"),
    "COLON": ("结肠", "Colon"),
    "PELVIS": ("盆腔", "Pelvis"),
    "BLADDER": ("膀胱", "Bladder"),
    "PROSTATE": ("前列腺", "Prostate"),
    "UTERUS": ("子宫", "Uterus"),
    "OVARY": ("卵巢", "Ovary"),
    "ABDOMENPELVIS": ("腹盆腔", "Abdomen and pelvis"),
    "CHESTABDOMEN": ("胸腹部", "Chest and abdomen"),
    "SPINE": ("脊柱", "Spine"),
    "CSPINE": ("颈椎", "Cervical spine"),
    "TSPINE": ("胸椎", "Thoracic spine"),
    "LSPINE": ("腰椎", "Lumbar spine"),
    "SSPINE": ("骶椎", "Sacrum"),
    "EXTREMITY": ("四肢", "Extremity"),
    "SHOULDER": ("肩关节", "Shoulder"),
    "ELBOW": ("肘关节", "Elbow"),
    "WRIST": ("腕关节", "Wrist"),
    "HAND": ("手", "Hand"),
    "HIP": ("髋关节", "Hip"),
    "KNEE": ("膝关节", "Knee"),
    "ANKLE": ("踝关节", "Ankle"),
    "FOOT": ("足", "Foot"),
    "WHOLEBODY": ("全身", "Whole body"),
}


def name(code: str, lang: str = "zh") -> str:
    """The body part's name in ``lang`` (zh or en); an unknown code as it is."""
    found = BODY_PARTS.get(code.strip().upper())
    if found is None:
        return code
    return found[1] if lang == "en" else found[0]
