// The four corners of every OHIF viewport in the hospital's usual layout (docs/viewer.md):
//   top left:     name, sex · age · birth date, patient ID
//   top right:    hospital, study date and time, study description, series number and description
//   bottom left:  image number / count, slice location and thickness
//   bottom right: window width and level, zoom
// Served inside app-config.js (core_server/web/viewer/config.py), which calls
// hospitalOverlays(text, hospital) with the viewer.overlay.* texts of the user's language
// (web/viewer/messages.json) and the hospital's name; the result goes into OHIF 3.13's
// customizationService as the viewportOverlay.* customizations. Each item is an
// 'ohif.overlayItem' whose contentF OHIF calls with the viewport's props (instance,
// referenceInstance, instances, instanceNumber, imageSliceData, voi, scale); an item whose
// contentF answers '' or null is not shown. app-config.js wraps this file in a function, so
// nothing here becomes a global.
'use strict';
var CJK = /[\u3400-\u9fff\uf900-\ufaff]|[\ud840-\ud8bf][\udc00-\udfff]/;

function say(text, key, values) {
  return text[key].replace(/\{(\w+)\}/g, function (_whole, name) { return values[name]; });
}

function filled(value) {
  return value !== undefined && value !== null && String(value).trim() !== '';
}

// A DICOM Person Name as OHIF holds it ({Alphabetic, Ideographic}, a string with '='
// between the groups, or a list of either): [alphabetic, ideographic] group texts.
function nameGroups(value) {
  if (Array.isArray(value)) { value = value[0]; }
  if (value === undefined || value === null) { return ['', '']; }
  if (typeof value === 'object') {
    return [value.Alphabetic || '', value.Ideographic || ''];
  }
  var groups = String(value).split('=');
  return [groups[0] || '', groups[1] || ''];
}

// 王建国 from WANG^JIANGUO=王^建国 (the ideographic group when present, or Chinese written
// in the alphabetic group), else the alphabetic group, family name first: WANG JIANGUO.
// Never a '^'.
function personName(value) {
  var groups = nameGroups(value);
  var alphabetic = groups[0].trim();
  var ideographic = groups[1].replace(/\^/g, '').trim() ? groups[1] : '';
  if (!ideographic && CJK.test(alphabetic)) { ideographic = alphabetic; }
  if (ideographic) {
    var c = ideographic.split('^').map(function (part) { return part.replace(/\s+/g, ''); });
    return [c[3], c[0], c[1], c[2], c[4]].join('');
  }
  var a = alphabetic.split('^').map(function (part) { return part.trim(); });
  return [a[3], a[0], a[1], a[2], a[4]].filter(filled).join(' ');
}

function dicomDate(value) {
  var d = String(value || '').replace(/\D/g, '');
  return d.length === 8 ? d.slice(0, 4) + '-' + d.slice(4, 6) + '-' + d.slice(6, 8) : '';
}

function dicomTime(value) {
  var t = String(value || '').replace(/:/g, '');
  return /^\d{4}/.test(t) ? t.slice(0, 2) + ':' + t.slice(2, 4) : '';
}

function plainNumber(value, digits) {
  var n = Number(value);
  return filled(value) && isFinite(n) ? String(parseFloat(n.toFixed(digits))) : '';
}

// PatientAge (036Y, 005M, 003W, 012D) if sent, else from the birth and study dates.
function age(text, instance) {
  var sent = /^(\d{1,3})\s*([DWMY])$/.exec(String(instance.PatientAge || '').trim());
  if (sent) { return say(text, 'viewer.overlay.age_' + sent[2], {n: parseInt(sent[1], 10)}); }
  var born = dicomDate(instance.PatientBirthDate);
  var seen = dicomDate(instance.StudyDate);
  if (!born || !seen || seen < born) { return ''; }
  var b = born.split('-').map(Number);
  var s = seen.split('-').map(Number);
  var months = (s[0] - b[0]) * 12 + (s[1] - b[1]) - (s[2] < b[2] ? 1 : 0);
  if (months >= 12) { return say(text, 'viewer.overlay.age_Y', {n: Math.floor(months / 12)}); }
  if (months >= 1) { return say(text, 'viewer.overlay.age_M', {n: months}); }
  var days = Math.round((Date.UTC(s[0], s[1] - 1, s[2]) - Date.UTC(b[0], b[1] - 1, b[2])) / 864e5);
  return say(text, 'viewer.overlay.age_D', {n: days});
}

function sexAgeBirth(text, instance) {
  var sex = String(instance.PatientSex || '').trim().toUpperCase();
  var parts = [
    text['viewer.overlay.sex_' + sex] || '',
    age(text, instance),
    dicomDate(instance.PatientBirthDate),
  ];
  return parts.filter(filled).join(' · ');
}

// The image shown when the viewport shows acquired images (a stack, or a volume seen in its
// acquisition plane); none in a reconstructed plane (MPR sagittal/coronal).
function shownImage(props) {
  var instances = props.instances || [];
  var number = props.instanceNumber;
  if (number === null || number === undefined) {
    return instances.length === 1 ? instances[0] : null;
  }
  var instance = props.instance;
  if (instance && Number(instance.InstanceNumber) === number) { return instance; }
  var same = instances.filter(function (i) { return Number(i.InstanceNumber) === number; });
  return same.length === 1 ? same[0] : instance || null;
}

// SliceLocation, else the image position along the slice normal.
function sliceLocation(instance) {
  if (filled(instance.SliceLocation)) { return plainNumber(instance.SliceLocation, 2); }
  var p = instance.ImagePositionPatient;
  var o = instance.ImageOrientationPatient;
  if (!Array.isArray(p) || !Array.isArray(o) || p.length !== 3 || o.length !== 6) { return ''; }
  var n = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];
  return plainNumber(p[0] * n[0] + p[1] * n[1] + p[2] * n[2], 2);
}

function study(props) { return props.referenceInstance || props.instance || {}; }

function item(id, content) {
  return {id: id, inheritsFrom: 'ohif.overlayItem', contentF: content};
}

// top left: who.
function patientItems(text) {
  return [
    item('PatientName', function (props) { return personName(study(props).PatientName); }),
    item('PatientSexAge', function (props) { return sexAgeBirth(text, study(props)); }),
    item('PatientID', function (props) {
      var id = study(props).PatientID;
      return filled(id) ? say(text, 'viewer.overlay.patient_id', {id: id}) : '';
    }),
  ];
}

// top right: where and what.
function studyItems(text, hospital) {
  return [
    item('Hospital', function (props) { return hospital || study(props).InstitutionName || ''; }),
    item('StudyDateTime', function (props) {
      var s = study(props);
      return [dicomDate(s.StudyDate), dicomTime(s.StudyTime)].filter(filled).join(' ');
    }),
    item('StudyDescription', function (props) { return study(props).StudyDescription || ''; }),
    item('Series', function (props) {
      var s = study(props);
      var number = filled(s.SeriesNumber)
        ? say(text, 'viewer.overlay.series', {number: s.SeriesNumber}) : '';
      return [number, s.SeriesDescription].filter(filled).join(' ');
    }),
  ];
}

// bottom left: which image.
function imageItems(text) {
  return [
    item('ImageNumber', function (props) {
      var slices = props.imageSliceData || {};
      if (!(slices.numberOfSlices > 0)) { return ''; }
      var shown = {index: slices.imageIndex + 1, count: slices.numberOfSlices};
      return say(text, 'viewer.overlay.image', shown);
    }),
    item('SliceLocationThickness', function (props) {
      var instance = shownImage(props);
      if (!instance) { return ''; }
      var location = sliceLocation(instance);
      var thickness = plainNumber(instance.SliceThickness, 2);
      return [
        location ? say(text, 'viewer.overlay.slice_location', {mm: location}) : '',
        thickness ? say(text, 'viewer.overlay.slice_thickness', {mm: thickness}) : '',
      ].filter(filled).join(' ');
    }),
  ];
}

// bottom right: how it is shown.
function viewItems(text) {
  return [
    item('WindowLevel', function (props) {
      var voi = props.voi || {};
      if (typeof voi.windowWidth !== 'number' || typeof voi.windowCenter !== 'number') {
        return '';
      }
      var shown = {width: voi.windowWidth.toFixed(0), level: voi.windowCenter.toFixed(0)};
      return say(text, 'viewer.overlay.window', shown);
    }),
    item('Zoom', function (props) {
      if (typeof props.scale !== 'number') { return ''; }
      return say(text, 'viewer.overlay.zoom', {zoom: props.scale.toFixed(2)});
    }),
  ];
}

function hospitalOverlays(text, hospital) {
  var corners = {
    topLeft: patientItems(text),
    topRight: studyItems(text, hospital),
    bottomLeft: imageItems(text),
    bottomRight: viewItems(text),
  };
  var customizations = {};
  Object.keys(corners).forEach(function (corner) {
    customizations['viewportOverlay.' + corner] = {$set: corners[corner]};
  });
  return customizations;
}
