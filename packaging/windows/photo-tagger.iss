; Inno Setup script for the Windows installer; build-windows.ps1 runs it after PyInstaller:
;   iscc /DAppVersion=0.1.0 packaging\windows\photo-tagger.iss
; Installs the one-folder bundle per user (no admin rights needed), with a Start-menu entry,
; an optional desktop icon and a clean uninstaller.
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define AppName "Photo Tagger"
#define AppExe "photo-tagger.exe"
#define Bundle "..\..\dist\photo-tagger"

[Setup]
; Keep this id for every release: Windows knows upgrades of the same app by it.
AppId={{6A0D3F2E-6F7B-4B52-9C1E-2E6C7B1C5A10}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=photo-tagger developers
AppPublisherURL=https://github.com/photo-tagger/photo-tagger
DefaultDirName={autopf}\Photo Tagger
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=photo-tagger-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\build\icons\photo-tagger.ico
UninstallDisplayIcon={app}\{#AppExe}
; lzma2/max on ~1 GB of torch takes long; "normal" keeps CI short at a few % in size.
Compression=lzma2/normal
SolidCompression=yes
WizardStyle=modern
#if FileExists(AddBackslash(SourcePath) + "..\..\LICENSE")
LicenseFile=..\..\LICENSE
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"
Name: "german"; MessagesFile: "compiler:Languages\German.isl"
Name: "french"; MessagesFile: "compiler:Languages\French.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
; photo-tagger-cli.exe (in the same folder) is the console twin for the subcommands and --self-test.

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Caches the app may write next to itself; the user's library (in %LOCALAPPDATA%) stays.
Type: filesandordirs; Name: "{app}"
